"""Training and generation speed of every method, on whatever device this runs on.

    python -m benchmarks.benchmark --preset cpu-small            # this 2-core machine, a few minutes
    python -m benchmarks.benchmark --preset gpt2-small           # a GPU: batch 32 x 512, bf16, ~2 minutes
    python -m benchmarks.benchmark --preset overhead-cpu         # per-step overhead of the pipeline, ~2 minutes

Per method (settings from configs/<method>.yaml): the pipeline's training steps (the real
`SummarizationTrainer`: logits only at summary positions, bf16/TF32/fused AdamW defaults) and, on the same
batches, a hand-written loop with the standard full-logits loss; non-padding tokens/s, step time, MFU,
peak accelerator and host memory. Then generation: the pipeline's batched, left-padded generation with the
KV cache against the same prompts generated one at a time (greedy; the summaries must be identical).
The "overhead" presets instead time the pipeline's training step against a lean hand-written step doing the same
arithmetic (logits at summary positions only, clipping, fused AdamW) on the same batches, in alternating repeats,
and report the minima and their ratio. Prints a table and writes JSON, rewritten after each method so that a run
stopped early keeps what it measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time

import torch
import transformers
from transformers import set_seed

from core import BadInputError, one_line_errors, run_cli
from core.config_files import config_path
from model_loading import use_fused_gelu
from peft_methods import METHODS, count_parameters
from summarization_data import SummarizationCollator
from summarization_training import SummarizationTrainer, SummarizationTrainingArguments
from summarization_training.command_line import parse_arguments
from summary_generation import SummarySettings

from .measure import (
    Peaks,
    StepTimer,
    flops_per_step,
    lean_training,
    measured_peak_flops,
    model_inputs,
    reference_training,
    time_generation,
)
from .presets import PRESETS, synthetic_examples
from .report import padding_fractions, print_overhead_table, print_tables


class InitTextTokenizer:
    """The soft prompt is initialised from the tokens of its init text; with random weights any ids do, so
    the benchmark needs no tokenizer files (these are GPT-2's ids for '[SUMMARIZE]')."""

    name_or_path = "gpt2"

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [58, 50, 5883, 44, 1847, 35]}


def parse_args(argv):
    parser = one_line_errors(argparse.ArgumentParser(prog="python -m benchmarks.benchmark",
                                                     description=__doc__.splitlines()[0]))
    parser.add_argument("--preset", choices=list(PRESETS), default="cpu-small", help="Model/batch/length setting.")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS),
                        help="Methods to run (default: the preset's, else all).")
    parser.add_argument("--output", help="JSON file to write (default: benchmarks/results/<preset>-<device>-<time>.json).")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing --output file.")
    parser.add_argument("--peak_tflops", type=float,
                        help="Peak dense TFLOP/s for MFU (H100 SXM bf16: 989). Default: measured with a matmul.")
    parser.add_argument("--no_reference", action="store_true", help="Skip the hand-written full-logits loop.")
    parser.add_argument("--torch_compile", action="store_true", help="Train the pipeline with torch.compile.")
    parser.add_argument("--repeats", type=int, help="Overhead presets: alternating pipeline/lean runs (default: "
                                                    "the preset's).")
    parser.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE", dest="overrides",
                        help="Training arguments for the pipeline, e.g. logging_nan_inf_filter=true (JSON values; "
                             "anything else is a string): what one setting costs.")
    parser.add_argument("--method_args", nargs="+", default=[], metavar="FLAG",
                        help="More method flags, after the preset's, e.g. --method_args=--lora_dropout=0.")
    args = parser.parse_args(argv)
    try:
        args.overrides = dict(override.split("=", 1) for override in args.overrides)
    except ValueError:
        raise BadInputError(f"--set takes FIELD=VALUE pairs (got {' '.join(args.overrides)})") from None
    args.overrides = {key: _json_or_text(value) for key, value in args.overrides.items()}
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    args.device = device
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")  # a new file per run: earlier results stay
    args.output = args.output or os.path.join("benchmarks", "results",
                                              f"{args.preset}-{device.replace(' ', '_').lower()}-{stamp}.json")
    if os.path.exists(args.output) and not args.overwrite:
        raise BadInputError(f"{args.output} exists; pass --overwrite to replace it or --output for another file")
    return args


def _json_or_text(value: str):
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def training_arguments(output_dir, preset, learning_rate, steps, compile_model, overrides=None):
    return SummarizationTrainingArguments(**{
        "output_dir": output_dir, "per_device_train_batch_size": preset.batch_size, "max_steps": steps,
        "learning_rate": learning_rate, "eval_strategy": "no", "save_strategy": "no", "load_best_model_at_end": False,
        "early_stopping_patience": None, "report_to": [], "logging_strategy": "no", "disable_tqdm": True, "seed": 0,
        "torch_compile": compile_model, "use_cpu": not torch.cuda.is_available(), **(overrides or {}),
    })


def method_settings(name, preset, args):
    """The method's settings as `run_summarization.py --method NAME [preset's and --method_args flags]` has them
    (configs/NAME.yaml if any)."""
    method = METHODS[name]
    flags = ["--method", name, *preset.method_args, *args.method_args, "--output_dir", "unused"]
    _, _, _, method_config, config_args = parse_arguments(flags)
    learning_rate = config_args.learning_rate if os.path.isfile(config_path(name)) else method.learning_rate
    return method, method_config, learning_rate


def model_builder(method, method_config, preset):
    def fresh_model(pipeline: bool):
        set_seed(0)
        base = preset.build_model()
        if pipeline:
            use_fused_gelu(base)  # as model_loading.load_base_model does; the reference keeps the stock model
        return method.build(base, method_config, InitTextTokenizer())

    return fresh_model


def benchmark_method(name, preset, dataset, args, peak_flops, peaks) -> dict:
    method, method_config, learning_rate = method_settings(name, preset, args)
    fresh_model = model_builder(method, method_config, preset)
    steps = preset.warmup_steps + preset.measured_steps
    collator = SummarizationCollator(pad_token_id=preset.eos_id)
    result = {"method": name}
    with tempfile.TemporaryDirectory() as output_dir:
        training_args = training_arguments(output_dir, preset, learning_rate, steps, args.torch_compile,
                                           args.overrides)
        bf16 = training_args.bf16
        model = fresh_model(pipeline=True).to(training_args.device)
        result["trainable_parameters"], result["total_parameters"] = count_parameters(model)
        model_flops = preset.model_flops_per_token()
        timer = StepTimer(preset.warmup_steps, peaks)
        trainer = SummarizationTrainer(model=model, args=training_args, train_dataset=dataset, data_collator=collator,
                                       method=method, callbacks=[timer])
        # The very batches the Trainer will draw (same seed, same sampler), for the reference loop.
        set_seed(training_args.seed)
        batches = [batch for _, batch in zip(range(steps), trainer.get_train_dataloader())]

        measured = batches[preset.warmup_steps:]
        pipeline_flops = flops_per_step(lambda batch: trainer.compute_loss(model, batch), model, measured, bf16)
        trainer.train()
        result["pipeline"] = timer.timing.row(pipeline_flops, model_flops, peak_flops)
        trainer = model = None  # freed before the reference loop measures its memory

        if not args.no_reference:
            model = fresh_model(pipeline=False).to(training_args.device)

            reference_flops = flops_per_step(lambda batch: model(**model_inputs(batch)).loss, model, measured, bf16)
            timing = reference_training(model, batches, preset.warmup_steps, bf16, peaks)
            result["reference"] = timing.row(reference_flops, model_flops, peak_flops)
            result["speedup"] = result["pipeline"]["tokens_per_s"] / result["reference"]["tokens_per_s"]
            model = None

        model = fresh_model(pipeline=True).to(training_args.device)
        result["generation"] = benchmark_generation(model, preset, dataset, bf16, peaks)
    return result


def benchmark_overhead(name, preset, dataset, args, peaks) -> dict:
    """The pipeline's training step against the lean hand-written one (measure.lean_training) on the same
    batches, from the same initial weights, alternating `repeats` times; each run's time per measured step, and
    the minima (the machine's noise only ever adds time)."""
    method, method_config, learning_rate = method_settings(name, preset, args)
    fresh_model = model_builder(method, method_config, preset)
    steps = preset.warmup_steps + preset.measured_steps
    collator = SummarizationCollator(pad_token_id=preset.eos_id)
    runs = {"pipeline": [], "lean": []}
    with tempfile.TemporaryDirectory() as output_dir:
        training_args = training_arguments(output_dir, preset, learning_rate, steps, args.torch_compile,
                                           args.overrides)
        bf16, device = training_args.bf16, training_args.device

        def pipeline_run():
            model = fresh_model(pipeline=True).to(device)
            timer = StepTimer(preset.warmup_steps, peaks)
            trainer = SummarizationTrainer(model=model, args=training_args, train_dataset=dataset,
                                           data_collator=collator, method=method, callbacks=[timer])
            trainer.train()
            return trainer, timer.timing

        trainer, _ = pipeline_run()  # untimed: first-call costs (imports, allocator, thread pools)
        set_seed(training_args.seed)  # the very batches the Trainer draws (same seed, same sampler)
        batches = [batch for _, batch in zip(range(steps), trainer.get_train_dataloader())]
        optimizer = getattr(trainer.optimizer, "optimizer", trainer.optimizer)  # inside accelerate's wrapper
        result = {"method": name, "optimizer": type(optimizer).__name__,
                  "optimizer_fused": bool(optimizer.defaults.get("fused")),
                  "training_overrides": args.overrides, "method_flags": [*preset.method_args, *args.method_args]}
        result["trainable_parameters"], result["total_parameters"] = count_parameters(trainer.model)
        trainer = None
        for _ in range(args.repeats or preset.repeats):
            runs["pipeline"].append(pipeline_run()[1])
            runs["lean"].append(lean_training(fresh_model(pipeline=True).to(device), batches, preset.warmup_steps,
                                              bf16, peaks, max_grad_norm=training_args.max_grad_norm,
                                              learning_rate=learning_rate))
    for loop, timings in runs.items():
        result[loop] = {"step_s": [t.seconds / t.steps for t in timings], "min_step_s": min(t.seconds / t.steps
                                                                                          for t in timings),
                        "tokens_per_step": timings[0].tokens / timings[0].steps}
    # Same batches, so the same non-padding tokens per step: anything else means they trained on different data.
    result["same_tokens"] = result["pipeline"]["tokens_per_step"] == result["lean"]["tokens_per_step"]
    result["ratio"] = result["pipeline"]["min_step_s"] / result["lean"]["min_step_s"]
    return result


def benchmark_generation(model, preset, dataset, bf16, peaks) -> dict:
    # Greedy, every summary max_new_tokens long (random weights rarely say EOS; this is the worst case).
    pad_id = eos_id = preset.eos_id
    config = SummarySettings(preset.max_new_tokens, 1, 0, 1.0, eos_token_id=eos_id, pad_token_id=pad_id).generation_config()
    config.min_new_tokens = preset.max_new_tokens
    prompts = dataset["prompt_input_ids"][:preset.generation_prompts]
    batched, batched_ids = time_generation(model, prompts, preset.generation_batch_size, config, pad_id, bf16, peaks)
    # The same settings one article per generate() call: the ratio is what batching alone buys.
    sequential, sequential_ids = time_generation(model, prompts[:preset.sequential_prompts], 1, config, pad_id,
                                                 bf16, peaks)
    return {"batched": batched, "one_at_a_time": sequential,
            "speedup_per_summary": batched["summaries_per_s"] / sequential["summaries_per_s"],
            "identical_summaries": batched_ids[:len(sequential_ids)] == sequential_ids}


def run(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    preset = PRESETS[args.preset]
    threads = torch.get_num_threads()
    if preset.threads is not None:
        torch.set_num_threads(preset.threads)
    try:
        return measure_presets(args, preset, argv)
    finally:  # called in-process (tests), the caller's threads come back: they change the last bits of its sums
        torch.set_num_threads(threads)


def measure_presets(args, preset, argv) -> dict:
    methods = args.methods or list(preset.methods or [n for n, row in METHODS.items() if row.compared_by_default])
    steps = preset.warmup_steps + preset.measured_steps
    dataset = synthetic_examples(preset, max(steps * preset.batch_size, preset.generation_prompts))
    defaults = training_arguments(tempfile.gettempdir(), preset, 1e-4, 1, False, args.overrides)
    bf16 = defaults.bf16
    overhead = preset.kind == "overhead"  # no MFU there: the arithmetic is negligible on purpose
    if overhead:
        peak_flops = None
    else:
        peak_flops = args.peak_tflops * 1e12 if args.peak_tflops else measured_peak_flops(bf16)
    peaks = Peaks()
    report = {
        "preset": preset.name, "description": preset.description, "device": args.device,
        "cpu_threads": torch.get_num_threads(), "platform": platform.platform(),
        "torch": torch.__version__, "transformers": transformers.__version__, "bf16": bf16,
        # transformers sets TF32 through torch's new fp32_precision API; reading the legacy flag would raise.
        "tf32": defaults.tf32,
        "torch_compile": args.torch_compile,
        "peak_tflops": peak_flops / 1e12 if peak_flops else None, "peak_measured": not args.peak_tflops,
        "kind": preset.kind,
        "date": datetime.date.today().isoformat(), "command": " ".join(["python -m benchmarks.benchmark", *argv]),
        # Over 2,000 examples: what one epoch of dynamically padded batches wastes, random vs length-grouped.
        "padding_fraction": padding_fractions(synthetic_examples(preset, 2000, seed=1), preset.batch_size),
        "methods": [], "complete": False,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    for name in methods:
        start = time.perf_counter()
        if overhead:
            report["methods"].append(benchmark_overhead(name, preset, dataset, args, peaks))
        else:
            report["methods"].append(benchmark_method(name, preset, dataset, args, peak_flops, peaks))
        report["methods"][-1]["wall_s"] = time.perf_counter() - start
        write_json(report, args.output)  # after each method: a run stopped early keeps what it measured
        print(f"{name}: done in {report['methods'][-1]['wall_s']:.0f} s", file=sys.stderr, flush=True)
    report["complete"] = True
    write_json(report, args.output)
    (print_overhead_table if overhead else print_tables)(report)
    print(f"\nwritten {args.output}")
    return report


def write_json(report: dict, path: str) -> None:
    """Replaced whole (written aside, then renamed): a kill mid-write leaves the previous version, not half a file."""
    partial = f"{path}.partial"
    with open(partial, "w") as handle:
        json.dump(report, handle, indent=2)
    os.replace(partial, path)


def main(argv=None) -> None:
    run_cli("python -m benchmarks.benchmark", run, argv)


if __name__ == "__main__":
    main()
