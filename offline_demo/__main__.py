"""Offline demo: `python -m offline_demo [--output_dir demo_output]` (what `make demo` runs).

1. writes a generated CNN/DailyMail-shaped corpus (`summarization_data.synthetic_news`);
2. pretrains a small GPT-2 on its plain text (cached in <output_dir>/base-model);
3. runs the lead-3 and zero-shot baselines and the four methods through `run_summarization.py`;
4. writes the comparison report (`reporting.report`) and prints where it is.
A run that fails is recorded (error.txt in its folder) and shown as failed in the report.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

import datasets

import run_summarization
from baselines import lead_3
from peft_methods import METHODS
from reporting.report import build_report
from summarization_data.synthetic_news import write_corpus

from .base_model import BaseModelSpec, pretrain_base_model

# Each method gets a learning rate that suits it (NOTES 3.2): a soft prompt needs a far larger step.
METHOD_ARGS = {
    "prompt": ["--learning_rate", "3e-1", "--num_virtual_tokens", "20"],
    "lora": ["--learning_rate", "3e-3", "--lora_r", "16", "--lora_alpha", "32", "--lora_target_modules", "c_attn",
             "c_proj"],
    "head": ["--learning_rate", "3e-3"],
    "full": ["--learning_rate", "1e-3"],
}


def log(message: str) -> None:
    print(message, flush=True)


def attempt(name: str, run_dir: str, function, *args) -> None:
    """Run one row of the comparison; a failure is written down for the report instead of ending the demo."""
    started = time.perf_counter()
    log(f"[demo] {name}: starting -> {run_dir}")
    try:
        function(*args)
        log(f"[demo] {name}: done in {time.perf_counter() - started:.0f} s")
    except (Exception, SystemExit) as error:  # noqa: BLE001 - any failure becomes a "failed" row
        os.makedirs(run_dir, exist_ok=True)
        with open(os.path.join(run_dir, "error.txt"), "w") as handle:
            handle.write(f"{type(error).__name__}: {error}\n\n{traceback.format_exc()}")
        log(f"[demo] {name}: FAILED ({type(error).__name__}: {error}); see {run_dir}/error.txt")


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="demo_output", help="Where corpus, base model, runs and report go.")
    parser.add_argument("--num_train", type=int, default=1500,
                        help="Generated training articles (all of them pretrain the base model's language).")
    parser.add_argument("--finetune_samples", type=int, default=600,
                        help="Training articles each method fine-tunes on (a seeded random subset).")
    parser.add_argument("--num_eval", type=int, default=100, help="Generated validation and test articles, each.")
    parser.add_argument("--epochs", type=float, default=2, help="Maximum fine-tuning epochs per method.")
    parser.add_argument("--pretrain_epochs", type=float, default=3, help="Pretraining epochs of the base model.")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS), help="Methods.")
    parser.add_argument("--max_length", type=int, default=320, help="Tokens per example (and pretraining block).")
    parser.add_argument("--max_new_tokens", type=int, default=96, help="Longest generated summary.")
    parser.add_argument("--base_layers", type=int, default=4, help="Transformer blocks of the base model.")
    parser.add_argument("--base_width", type=int, default=128, help="Hidden size of the base model.")
    parser.add_argument("--vocab_size", type=int, default=2048, help="BPE vocabulary trained on the corpus.")
    args = parser.parse_args(argv)
    datasets.disable_progress_bars()
    started = time.perf_counter()
    corpus, runs = os.path.join(args.output_dir, "corpus"), os.path.join(args.output_dir, "runs")

    log(f"[demo] 1/4 generating {args.num_train:,} + {args.num_eval} + {args.num_eval} news articles in {corpus}")
    write_corpus(corpus, args.num_train, args.num_eval, args.num_eval, seed=0)
    log("[demo] 2/4 base model")
    base = pretrain_base_model(corpus, os.path.join(args.output_dir, "base-model"),
                               BaseModelSpec(vocab_size=args.vocab_size, n_layer=args.base_layers,
                                             n_embd=args.base_width, block_size=args.max_length,
                                             epochs=args.pretrain_epochs), log=log)

    common = [
        "--model_name_or_path", base, "--data_dir", corpus, "--overwrite_output_dir", "--max_length", str(args.max_length),
        "--do_predict", "--predict_with_generate", "--generation_num_beams", "1", "--generation_max_new_tokens",
        str(args.max_new_tokens), "--no_repeat_ngram_size", "3", "--per_device_eval_batch_size", "32", "--dataset_name",
        "synthetic-cnn-dailymail", "--disable_tqdm", "true", "--seed", "0",
    ]
    log("[demo] 3/4 baselines and methods")
    lead_dir, zero_dir = os.path.join(runs, "lead-3"), os.path.join(runs, "zero-shot")
    attempt("lead-3", lead_dir, lead_3.run, ["--data_dir", corpus, "--output_dir", lead_dir, "--data_seed", "0",
                                             "--tokenizer_name", base, "--overwrite_output_dir"])
    attempt("zero-shot", zero_dir, run_summarization.run, [
        "--method", "zero-shot", "--output_dir", zero_dir, "--eval_strategy", "no", "--save_strategy", "no",
        "--load_best_model_at_end", "false", *common])
    for method in args.methods:
        run_dir = os.path.join(runs, method)
        attempt(method, run_dir, run_summarization.run, [
            "--method", method, "--output_dir", run_dir, "--do_train", "--num_train_epochs", str(args.epochs),
            "--max_train_samples", str(args.finetune_samples),
            "--per_device_train_batch_size", "16", "--warmup_steps", "0.05", "--logging_steps", "10",
            "--eval_generate_samples", "32", "--early_stopping_patience", "2", "--save_total_limit", "1",
            "--baseline_runs", lead_dir, zero_dir, *METHOD_ARGS[method], *common])

    log("[demo] 4/4 comparison report")
    report = build_report([runs], os.path.join(args.output_dir, "report"),
                          title="Offline demo: PEFT methods on generated news with a small GPT-2")
    log(f"[demo] finished in {(time.perf_counter() - started) / 60:.1f} min. Report: {os.path.abspath(report)}")
    return report


if __name__ == "__main__":
    main()
    sys.exit(0)
