"""Offline demo: every method trained end to end on generated news with a small GPT-2, no downloads.

    python -m reporting.demo [--output_dir demo_output] [--num_train 400] [--epochs 2]

It writes a synthetic CNN/DailyMail-shaped corpus, trains a byte-level BPE tokenizer on it, builds a
small GPT-2-architecture model, runs `run_summarization.py` once per method, and prints one table of
what each run cost and scored. The base model is random-initialised here (not pretrained), so the
numbers show the pipeline working, not what the methods can do on real GPT-2.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

from peft_methods import METHODS
from summarization_data.synthetic_news import write_corpus

EOS = "<|endoftext|>"
LEARNING_RATES = {"prompt": 3e-2, "lora": 2e-3, "head": 2e-3, "full": 1e-3}
TABLE_COLUMNS = [
    ("method", "method", "{}"), ("trainable_params", "trainable", "{:,}"), ("train_runtime", "train s", "{:.1f}"),
    ("train_tokens_per_second", "tokens/s", "{:,.0f}"), ("train_peak_host_memory_mb", "host MB", "{:,.0f}"),
    ("eval_loss", "eval loss", "{:.3f}"),
]


def build_tokenizer(corpus_dir: str, output_dir: str, vocab_size: int) -> GPT2TokenizerFast:
    """A GPT-2-style byte-level BPE trained on the corpus: a small vocabulary keeps the demo fast on CPU."""
    texts = []
    for split in ("train", "validation"):
        with open(os.path.join(corpus_dir, f"{split}.csv"), newline="") as handle:
            texts += [row[column] for row in csv.DictReader(handle) for column in ("article", "highlights")]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, special_tokens=[EOS], show_progress=False)
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, eos_token=EOS, bos_token=EOS, unk_token=EOS)
    tokenizer.save_pretrained(output_dir)
    return tokenizer


def build_base_model(tokenizer, output_dir: str, seed: int = 0) -> str:
    import torch

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=512, n_embd=128, n_layer=4, n_head=4,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(output_dir)
    return output_dir


def format_table(rows: list[dict]) -> str:
    header = "| " + " | ".join(title for _, title, _ in TABLE_COLUMNS) + " |"
    lines = [header, "|" + "---|" * len(TABLE_COLUMNS)]
    for row in rows:
        cells = [fmt.format(row[key]) if row.get(key) is not None else "n/a" for key, _, fmt in TABLE_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="demo_output", help="Where corpus, model and runs go.")
    parser.add_argument("--num_train", type=int, default=400, help="Generated training articles.")
    parser.add_argument("--num_eval", type=int, default=80, help="Generated validation and test articles each.")
    parser.add_argument("--epochs", type=float, default=2, help="Training epochs per method.")
    parser.add_argument("--vocab_size", type=int, default=4096, help="BPE vocabulary of the demo tokenizer.")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS), help="Methods to run.")
    args = parser.parse_args(argv)

    import run_summarization

    corpus = os.path.join(args.output_dir, "corpus")
    base = os.path.join(args.output_dir, "base-model")
    print(f"[demo] writing a generated news corpus to {corpus}", flush=True)
    write_corpus(corpus, args.num_train, args.num_eval, args.num_eval, seed=0)
    print(f"[demo] training a {args.vocab_size}-token BPE tokenizer and building a small GPT-2 in {base}", flush=True)
    build_base_model(build_tokenizer(corpus, base, args.vocab_size), base)

    rows = []
    for method in args.methods:
        run_dir = os.path.join(args.output_dir, "runs", method)
        print(f"[demo] training method '{method}' -> {run_dir}", flush=True)
        run_summarization.main([
            "--method", method, "--model_name_or_path", base, "--data_dir", corpus, "--output_dir", run_dir,
            "--overwrite_output_dir", "--do_train", "--do_eval", "--do_predict", "--num_train_epochs", str(args.epochs),
            "--learning_rate", str(LEARNING_RATES[method]), "--per_device_train_batch_size", "16",
            "--per_device_eval_batch_size", "16", "--max_length", "384", "--dataset_name", "synthetic-news",
            "--disable_tqdm", "true", "--logging_steps", "5",
        ])
        with open(os.path.join(run_dir, "all_results.json")) as handle:
            rows.append(json.load(handle))
    table = format_table(rows)
    with open(os.path.join(args.output_dir, "SUMMARY.md"), "w") as handle:
        handle.write(table + "\n")
    print("\n" + table + f"\n\n[demo] done: runs in {os.path.abspath(os.path.join(args.output_dir, 'runs'))}, "
          f"table in {os.path.abspath(os.path.join(args.output_dir, 'SUMMARY.md'))}")


if __name__ == "__main__":
    sys.exit(main())
