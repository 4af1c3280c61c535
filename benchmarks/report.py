"""Benchmark tables (markdown, as pasted into docs/performance.md) and the padding a sampler leaves."""

from __future__ import annotations

import torch
from transformers.trainer_pt_utils import LengthGroupedSampler


def padding_fractions(dataset, batch_size: int, seed: int = 0) -> dict:
    """Share of padded positions over one epoch of dynamically padded batches: random order vs length-grouped."""
    lengths = list(dataset["length"])
    generator = torch.Generator().manual_seed(seed)
    orders = {
        "random": torch.randperm(len(lengths), generator=generator).tolist(),
        "group_by_length": list(LengthGroupedSampler(batch_size, lengths=lengths, generator=generator)),
    }
    fractions = {}
    for name, order in orders.items():
        padded = real = 0
        for first in range(0, len(order), batch_size):
            batch = [lengths[i] for i in order[first:first + batch_size]]
            padded += max(batch) * len(batch)
            real += sum(batch)
        fractions[name] = 1 - real / padded
    return fractions


def _mb(value):
    return "n/a" if value is None else f"{value:,.0f}"


def print_tables(report: dict) -> None:
    print(f"\n{report['description']} | device: {report['device']} | bf16: {report['bf16']} | "
          f"peak {report['peak_tflops']:.1f} TFLOP/s ({'measured' if report['peak_measured'] else 'given'})")
    print("\nTraining (non-padding tokens/s; pipeline = SummarizationTrainer, reference = hand-written loop, "
          "full logits)\n")
    print("| method | trainable | pipeline tok/s | reference tok/s | speedup | step s | MFU (executed / 6N) | "
          "TFLOP/step (pipeline / ref) | peak accel MB (pipeline / ref) | peak host MB (pipeline / ref) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in report["methods"]:
        ours, ref = row["pipeline"], row.get("reference")
        ref = ref or {"tokens_per_s": float("nan"), "tflops_per_step": float("nan"), "peak_accelerator_mb": None,
                      "peak_host_mb": None}
        print(f"| {row['method']} | {row['trainable_parameters']:,} | {ours['tokens_per_s']:,.0f} | "
              f"{ref['tokens_per_s']:,.0f} | {row.get('speedup', float('nan')):.2f}x | {ours['step_s']:.2f} | "
              f"{100 * ours['mfu']:.1f}% / {100 * ours['mfu_6n']:.1f}% | {ours['tflops_per_step']:.2f} / {ref['tflops_per_step']:.2f} | "
              f"{_mb(ours['peak_accelerator_mb'])} / {_mb(ref['peak_accelerator_mb'])} | "
              f"{_mb(ours['peak_host_mb'])} / {_mb(ref['peak_host_mb'])} |")
    print("\nGeneration (greedy, every summary at max_new_tokens)\n")
    print("| method | batched summaries/s | new tokens/s | one-at-a-time summaries/s | speedup per summary | "
          "identical | peak accel MB | peak host MB |")
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for row in report["methods"]:
        gen = row["generation"]
        batched, single = gen["batched"], gen["one_at_a_time"]
        print(f"| {row['method']} | {batched['summaries_per_s']:.2f} | {batched['new_tokens_per_s']:,.0f} | "
              f"{single['summaries_per_s']:.2f} | {gen['speedup_per_summary']:.2f}x | "
              f"{'yes' if gen['identical_summaries'] else 'NO'} | {_mb(batched['peak_accelerator_mb'])} | "
              f"{_mb(batched['peak_host_mb'])} |")
    padding = report["padding_fraction"]
    print(f"\nPadding over one epoch: random batches {100 * padding['random']:.1f}%, "
          f"length-grouped {100 * padding['group_by_length']:.1f}%")


def print_overhead_table(report: dict) -> None:
    print(f"\n{report['description']} | device: {report['device']} | bf16: {report['bf16']} | "
          f"{report['cpu_threads']} threads")
    print("\nTraining step, seconds (minimum over alternating repeats; every repeat in brackets)\n")
    print("| method | settings | pipeline step s | lean step s | pipeline / lean |")
    print("|---|---|---:|---:|---:|")
    for row in report["methods"]:
        settings = " ".join([*row["method_flags"], *(f"{k}={v}" for k, v in row["training_overrides"].items())])
        cells = [f"{row[loop]['min_step_s']:.3f} ({', '.join(f'{s:.3f}' for s in row[loop]['step_s'])})"
                 for loop in ("pipeline", "lean")]
        print(f"| {row['method']} | {settings} | {cells[0]} | {cells[1]} | {row['ratio']:.2f}x |")
