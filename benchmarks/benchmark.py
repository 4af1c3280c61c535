"""Training and generation speed of every method, on whatever device this runs on.

    python -m benchmarks.benchmark --preset cpu-small            # this 2-core machine, a few minutes
    python -m benchmarks.benchmark --preset gpt2-small           # a GPU: batch 32 x 512, bf16

Per method (settings from configs/<method>.yaml): the pipeline's training steps (the real
`SummarizationTrainer`: logits only at summary positions, bf16/TF32/fused AdamW defaults) and, on the same
batches, a hand-written loop with the standard full-logits loss; non-padding tokens/s, step time, MFU,
peak accelerator and host memory. Then generation: the pipeline's batched, left-padded generation with the
KV cache against the same prompts generated one at a time (greedy; the summaries must be identical).
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile

import torch
import transformers
from transformers import set_seed

from core import BadInputError, run_cli
from model_loading import use_fused_gelu
from peft_methods import METHODS, count_parameters
from summarization_data import SummarizationCollator
from summarization_training import SummarizationTrainer, SummarizationTrainingArguments
from summarization_training.command_line import config_path, parse_arguments
from summary_generation import SummarySettings

from .measure import (
    Peaks,
    StepTimer,
    flops_per_step,
    measured_peak_flops,
    reference_training,
    time_generation,
)
from .presets import PRESETS, synthetic_examples
from .report import padding_fractions, print_tables

PAD_ID = EOS_ID = 50256


class InitTextTokenizer:
    """The soft prompt is initialised from the tokens of its init text; with random weights any ids do, so
    the benchmark needs no tokenizer files (these are GPT-2's ids for '[SUMMARIZE]')."""

    name_or_path = "gpt2"

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [58, 50, 5883, 44, 1847, 35]}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=list(PRESETS), default="cpu-small", help="Model/batch/length setting.")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS), help="Methods to run.")
    parser.add_argument("--output", help="JSON file to write (default: benchmarks/results/<preset>-<device>-<time>.json).")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing --output file.")
    parser.add_argument("--peak_tflops", type=float,
                        help="Peak dense TFLOP/s for MFU (H100 SXM bf16: 989). Default: measured with a matmul.")
    parser.add_argument("--no_reference", action="store_true", help="Skip the hand-written full-logits loop.")
    parser.add_argument("--torch_compile", action="store_true", help="Train the pipeline with torch.compile.")
    args = parser.parse_args(argv)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    args.device = device
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")  # a new file per run: earlier results stay
    args.output = args.output or os.path.join("benchmarks", "results",
                                              f"{args.preset}-{device.replace(' ', '_').lower()}-{stamp}.json")
    if os.path.exists(args.output) and not args.overwrite:
        raise BadInputError(f"{args.output} exists; pass --overwrite to replace it or --output for another file")
    return args


def training_arguments(output_dir, preset, learning_rate, steps, compile_model):
    return SummarizationTrainingArguments(
        output_dir=output_dir, per_device_train_batch_size=preset.batch_size, max_steps=steps,
        learning_rate=learning_rate, eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
        early_stopping_patience=None, report_to=[], logging_strategy="no", disable_tqdm=True, seed=0,
        torch_compile=compile_model, use_cpu=not torch.cuda.is_available(),
    )


def benchmark_method(name, preset, dataset, args, peak_flops, peaks) -> dict:
    # The method's settings as a bare `run_summarization.py --method NAME` has them (configs/NAME.yaml if any).
    method = METHODS[name]
    _, _, _, method_config, config_args = parse_arguments(["--method", name, "--output_dir", "unused"])
    learning_rate = config_args.learning_rate if os.path.isfile(config_path(name)) else method.learning_rate

    def fresh_model(pipeline: bool):
        set_seed(0)
        base = transformers.GPT2LMHeadModel(preset.model_config())
        if pipeline:
            use_fused_gelu(base)  # as model_loading.load_base_model does; the reference keeps the stock model
        return method.build(base, method_config, InitTextTokenizer())

    steps = preset.warmup_steps + preset.measured_steps
    collator = SummarizationCollator(pad_token_id=PAD_ID)
    result = {"method": name}
    with tempfile.TemporaryDirectory() as output_dir:
        training_args = training_arguments(output_dir, preset, learning_rate, steps, args.torch_compile)
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

            reference_flops = flops_per_step(lambda batch: model(**batch).loss, model, measured, bf16)
            timing = reference_training(model, batches, preset.warmup_steps, bf16, peaks)
            result["reference"] = timing.row(reference_flops, model_flops, peak_flops)
            result["speedup"] = result["pipeline"]["tokens_per_s"] / result["reference"]["tokens_per_s"]
            model = None

        model = fresh_model(pipeline=True).to(training_args.device)
        result["generation"] = benchmark_generation(model, preset, dataset, bf16, peaks)
    return result


def benchmark_generation(model, preset, dataset, bf16, peaks) -> dict:
    # Greedy, every summary max_new_tokens long (random weights rarely say EOS; this is the worst case).
    config = SummarySettings(preset.max_new_tokens, 1, 0, 1.0, eos_token_id=EOS_ID, pad_token_id=PAD_ID).generation_config()
    config.min_new_tokens = preset.max_new_tokens
    prompts = dataset["prompt_input_ids"][:preset.generation_prompts]
    batched, batched_ids = time_generation(model, prompts, preset.generation_batch_size, config, PAD_ID, bf16, peaks)
    # The same settings one article per generate() call: the ratio is what batching alone buys.
    sequential, sequential_ids = time_generation(model, prompts[:preset.sequential_prompts], 1, config, PAD_ID,
                                                 bf16, peaks)
    return {"batched": batched, "one_at_a_time": sequential,
            "speedup_per_summary": batched["summaries_per_s"] / sequential["summaries_per_s"],
            "identical_summaries": batched_ids[:len(sequential_ids)] == sequential_ids}


def run(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    preset = PRESETS[args.preset]
    steps = preset.warmup_steps + preset.measured_steps
    dataset = synthetic_examples(preset, max(steps * preset.batch_size, preset.generation_prompts))
    defaults = training_arguments(tempfile.gettempdir(), preset, 1e-4, 1, False)
    bf16 = defaults.bf16
    peak_flops = args.peak_tflops * 1e12 if args.peak_tflops else measured_peak_flops(bf16)
    peaks = Peaks()
    report = {
        "preset": preset.name, "description": preset.description, "device": args.device,
        "cpu_threads": torch.get_num_threads(), "platform": platform.platform(),
        "torch": torch.__version__, "transformers": transformers.__version__, "bf16": bf16,
        # transformers sets TF32 through torch's new fp32_precision API; reading the legacy flag would raise.
        "tf32": defaults.tf32,
        "torch_compile": args.torch_compile,
        "peak_tflops": peak_flops / 1e12, "peak_measured": not args.peak_tflops,
        "date": datetime.date.today().isoformat(), "command": " ".join(["python -m benchmarks.benchmark", *argv]),
        # Over 2,000 examples: what one epoch of dynamically padded batches wastes, random vs length-grouped.
        "padding_fraction": padding_fractions(synthetic_examples(preset, 2000, seed=1), preset.batch_size),
        "methods": [],
    }
    for name in args.methods:
        report["methods"].append(benchmark_method(name, preset, dataset, args, peak_flops, peaks))
        print(f"{name}: done", file=sys.stderr, flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(report, handle, indent=2)
    print_tables(report)
    print(f"\nwritten {args.output}")
    return report


def main(argv=None) -> None:
    run_cli("python -m benchmarks.benchmark", run, argv)


if __name__ == "__main__":
    main()
