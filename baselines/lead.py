"""Lead-N baselines: the article's first N sentences as its summary, scored like every model run.

    python -m baselines.lead --data_dir cnn_dailymail --output_dir runs/lead-3 --max_predict_samples 3000
    python -m baselines.lead --num_sentences 1 --dataset_name bbc_news --output_dir runs/lead-1

Lead-3 is the standard baseline for CNN/DailyMail (multi-sentence highlights); lead-1 for one-sentence summaries
(XSum-style data such as BBC News, whose journalist-written intro is removed from the article).

The test subset is drawn exactly as `run_summarization.py` draws it (same loader, `--data_seed`), and the
run folder gets the same `all_results.json` keys (`predict_rouge1`, ...), so reports put it in the same
table. Sentences come from the download-free splitter the ROUGE metric uses.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field

from transformers import AutoTokenizer, HfArgumentParser

from core import BadInputError, one_line_errors, run_cli, run_folder
from core.provenance import data_fingerprint, environment
from metrics import split_sentences
from metrics.scoring import summary_scores
from summarization_data import load_splits
from summarization_data.arguments import DataArguments
from summary_generation import GeneratedSummaries
from trainer_callbacks.memory import HostPeakMemory

logger = logging.getLogger("lead")


@dataclass
class LeadArguments:
    output_dir: str = field(metadata={"help": "Run folder for all_results.json and generated_predictions.jsonl."})
    num_sentences: int = field(default=3, metadata={"help": "Leading sentences taken as the summary."})
    data_seed: int = field(default=42, metadata={"help": "Seed of the --max_predict_samples draw (as --data_seed)."})
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Tokenizer for predict_gen_len in tokens, comparable with model runs."}
    )
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace a finished run in output_dir."})


def lead(article: str, num_sentences: int) -> str:
    return "\n".join(split_sentences(" ".join(article.split("\n")))[:num_sentences])


def run(argv: list[str] | None = None) -> dict:
    parser = one_line_errors(HfArgumentParser((DataArguments, LeadArguments), prog="python -m baselines.lead"))
    data_args, args, unknown = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if run_folder.is_finished(args.output_dir) and not args.overwrite_output_dir:
        raise BadInputError(f"{args.output_dir} already holds a finished run; pass --overwrite_output_dir")
    test = load_splits(data_args, ["test"], seed=args.data_seed)["test"]
    host = HostPeakMemory()
    host.reset()
    start = time.perf_counter()
    summaries = GeneratedSummaries(
        ids=list(test["id"]),
        references=list(test[data_args.summary_column]),
        predictions=[lead(article, args.num_sentences) for article in test[data_args.text_column]],
    )
    if args.tokenizer_name:
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer_name)
        summaries.lengths = [len(ids) for ids in tokenizer([" " + p for p in summaries.predictions])["input_ids"]]
    method = f"lead-{args.num_sentences}"
    provenance = {**environment("python -m baselines.lead", sys.argv[1:] if argv is None else argv),
                  "data": {"test": data_fingerprint(test.to_dict(), ("id", data_args.text_column,
                                                                       data_args.summary_column))}}
    results = {"method": method, "trainable_params": 0, "total_params": 0, "trainable_percent": 0.0,
               "predict_loss": None, "test_data_fingerprint": provenance["data"]["test"]}
    results.update(summary_scores(summaries.predictions, summaries.references, summaries.lengths or None,
                                  prefix="predict"))
    runtime = time.perf_counter() - start
    results.update({"predict_runtime": runtime, "predict_samples": len(test),
                    "predict_samples_per_second": len(test) / runtime,
                    "predict_peak_accelerator_memory_mb": None, "predict_peak_host_memory_mb": host.peak_mb()})
    os.makedirs(args.output_dir, exist_ok=True)
    run_folder.write_predictions(args.output_dir, summaries.ids, summaries.references, summaries.predictions)
    run_folder.write_json(args.output_dir, run_folder.PROVENANCE, provenance)
    run_folder.write_json(args.output_dir, run_folder.RESULTS, results)
    logger.info("%s on %d articles: ROUGE-1 %.4f, ROUGE-Lsum %.4f -> %s", method, len(test),
                results["predict_rouge1"], results["predict_rougeLsum"], args.output_dir)
    return results


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    run_cli("python -m baselines.lead", run, argv)


if __name__ == "__main__":
    main()
