"""Measurements: the pipeline's training steps (the real `SummarizationTrainer`), a hand-written reference loop
with the standard full-logits loss on the same batches, a lean hand-written step with the pipeline's arithmetic
(for the per-step overhead), generation batched and one at a time."""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import TrainerCallback, set_seed

from summary_generation.generate import generate_summary_ids
from summary_generation.padding import left_padded
from trainer_callbacks.memory import MB, HostPeakMemory


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class Peaks:
    """Peak accelerator (allocated) and host (resident) memory since the last reset, in MB."""

    def __init__(self):
        self.host = HostPeakMemory()

    def reset(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self.host.reset()  # collects garbage and hands freed heap back to the OS first, as the callback does

    def read(self) -> dict:
        accelerator = torch.cuda.max_memory_allocated() / MB if torch.cuda.is_available() else None
        return {"peak_accelerator_mb": accelerator, "peak_host_mb": self.host.peak_mb()}


@dataclass
class Timing:
    seconds: float
    steps: int
    tokens: int  # non-padding tokens in the measured steps
    peaks: dict

    def row(self, flops_per_step: float, model_flops_per_token: float, peak_flops: float) -> dict:
        """`mfu`: the FLOPs this loop executes (counted) per second over the peak. `mfu_6n`: the usual
        convention (PaLM, llm.c): 6 x parameters + attention per token, as if every weight trained."""
        tokens_per_s = self.tokens / self.seconds
        return {"tokens_per_s": tokens_per_s, "step_s": self.seconds / self.steps,
                "tflops_per_step": flops_per_step / 1e12,
                "mfu": flops_per_step * self.steps / self.seconds / peak_flops,
                "mfu_6n": model_flops_per_token * tokens_per_s / peak_flops, **self.peaks}


class StepTimer(TrainerCallback):
    """Times the Trainer's steps after `warmup` (first steps pay for allocation and kernel selection)."""

    def __init__(self, warmup: int, peaks: Peaks):
        self.warmup, self.peaks, self.timing = warmup, peaks, None
        self.start = self.tokens = None

    def on_step_end(self, args, state, control, **kwargs):
        # Only at the two boundaries: a sync at every step would add to the pipeline what it is measured without.
        if state.global_step in (self.warmup, state.max_steps):
            synchronize()
        if state.global_step == self.warmup:
            self.peaks.reset()
            self.start, self.tokens = time.perf_counter(), state.num_input_tokens_seen
        elif state.global_step == state.max_steps:
            self.timing = Timing(time.perf_counter() - self.start, state.global_step - self.warmup,
                                 state.num_input_tokens_seen - self.tokens, self.peaks.read())


def autocast(bf16: bool):
    return torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def reference_training(model, batches: list[dict], warmup: int, bf16: bool, peaks: Peaks) -> Timing:
    """What users write by hand: `model(**batch).loss` (logits at every position), backward, AdamW."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, fused=torch.cuda.is_available())
    model.train()
    tokens = 0
    for step, batch in enumerate(batches):
        if step == warmup:
            synchronize()
            peaks.reset()
            start = time.perf_counter()
        with autocast(bf16):
            loss = model(**model_inputs(batch)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= warmup:
            tokens += int(batch["attention_mask"].sum())
    synchronize()
    return Timing(time.perf_counter() - start, len(batches) - warmup, tokens, peaks.read())


def model_inputs(batch: dict) -> dict:
    """The model's own inputs from a pipeline batch (the collator may add host-side counts for the Trainer)."""
    return {key: batch[key] for key in ("input_ids", "attention_mask", "labels")}


def summary_targets(labels: torch.Tensor, ignore_index: int = -100) -> tuple[torch.Tensor, torch.Tensor]:
    """(positions, targets), both batch x K: per row the positions that predict a summary token and those tokens,
    padded to the longest row with position 0 and target `ignore_index`. Computed with Python lists on the host,
    independently of the pipeline's code, so a bug there is not copied here."""
    rows = labels.cpu().tolist()
    kept = [[(t, nxt) for t, nxt in enumerate(row[1:]) if nxt != ignore_index] for row in rows]
    width = max(len(row) for row in kept)
    positions = [[t for t, _ in row] + [0] * (width - len(row)) for row in kept]
    targets = [[n for _, n in row] + [ignore_index] * (width - len(row)) for row in kept]
    return (torch.tensor(positions, device=labels.device), torch.tensor(targets, device=labels.device))


def lean_training(model, batches: list[dict], warmup: int, bf16: bool, peaks: Peaks, max_grad_norm: float = 1.0,
                  learning_rate: float = 1e-4) -> Timing:
    """What a careful hand-written loop does with the pipeline's arithmetic: logits only at the positions that
    predict a summary token (integer positions and targets prepared on the host before timing: no data-dependent
    shape, no device sync), the mean cross-entropy over them, backward, gradient clipping, fused AdamW. The same
    model and trainable parameters as the pipeline; nothing else (no scheduler, callbacks, logging, counting)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    try:
        optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.0, fused=True)
    except RuntimeError:  # a device without the fused kernel
        optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.0)
    prepared = [(batch["input_ids"], batch["attention_mask"], *summary_targets(batch["labels"])) for batch in batches]
    tokens = sum(int(batch["attention_mask"].sum()) for batch in batches[warmup:])  # counted before timing
    model.train()
    for step, (input_ids, attention_mask, positions, targets) in enumerate(prepared):
        if step == warmup:
            synchronize()
            peaks.reset()
            start = time.perf_counter()
        with autocast(bf16):
            logits = model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=positions).logits
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    synchronize()
    return Timing(time.perf_counter() - start, len(batches) - warmup, tokens, peaks.read())


def flops_per_step(loss_of, model, batches: list[dict], bf16: bool) -> float:
    """Mean FLOPs of forward + backward over `batches`, counted from the operations actually run (matmuls
    and attention); nothing is updated."""
    with FlopCounterMode(display=False) as counter:
        for batch in batches:
            with autocast(bf16):
                loss = loss_of(dict(batch))
            loss.backward()
            model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(batches)


def measured_peak_flops(bf16: bool, seconds: float = 2.0) -> float:
    """The best dense matmul rate this device reaches (what MFU is measured against unless told a peak)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    size = 8192 if device == "cuda" else 1024
    dtype = torch.bfloat16 if bf16 else torch.float32
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        synchronize()
        start = time.perf_counter()
        for _ in range(5):
            a @ b
        synchronize()
        best = max(best, 5 * 2 * size**3 / (time.perf_counter() - start))
    return best


def time_generation(model, prompts: list[list[int]], batch_size: int, config, pad_id: int, bf16: bool,
                    peaks: Peaks) -> tuple[dict, list[list[int]]]:
    """Summaries per second and new tokens per second, generating `batch_size` prompts at a time."""
    device = next(model.parameters()).device
    model.eval()
    set_seed(0)
    warmup_ids, warmup_mask = (t.to(device) for t in left_padded(prompts[:2], pad_id))  # kernels, memory pools
    warmup_config = copy.deepcopy(config)
    warmup_config.max_new_tokens = warmup_config.min_new_tokens = 2
    # No autocast: generate_summary_ids decodes in the weights' precision, as every run does.
    generate_summary_ids(model, warmup_ids, warmup_mask, warmup_config)
    outputs = []
    synchronize()
    peaks.reset()
    start = time.perf_counter()
    for first in range(0, len(prompts), batch_size):
        input_ids, mask = (t.to(device) for t in left_padded(prompts[first:first + batch_size], pad_id))
        new_tokens = generate_summary_ids(model, input_ids, mask, config)
        outputs += new_tokens.tolist()
    synchronize()
    seconds = time.perf_counter() - start
    new = sum(len(row) for row in outputs)
    return ({"summaries_per_s": len(prompts) / seconds, "new_tokens_per_s": new / seconds, "seconds": seconds,
             "summaries": len(prompts), **peaks.read()}, outputs)
