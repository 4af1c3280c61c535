"""Peak accelerator and host memory per phase (train, eval, predict), written into the Trainer logs.

Evaluations run inside `train()`, so a phase can be interrupted: the training peak is the maximum
over the stretches between evaluations, and each evaluation gets its own peak. Peaks are reset at
every phase boundary (CUDA: `reset_peak_memory_stats`; host: Linux's VmHWM via /proc/self/clear_refs, after
handing freed heap back to the OS, as benchmarks/measure.py measures).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import resource
import sys

import torch
from transformers import TrainerCallback

from .phases import closed_phase

logger = logging.getLogger(__name__)

MB = 1024 * 1024


def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc; musl and macOS have none
    except (OSError, AttributeError):
        return None


class HostPeakMemory:
    """Peak resident set size of this process, resettable on Linux."""

    def __init__(self):
        self._trim = _malloc_trim() if sys.platform.startswith("linux") else None
        self.resettable = sys.platform.startswith("linux") and self._try_reset()
        if not self.resettable:
            logger.warning("host peak memory cannot be reset here: each phase reports the process-lifetime peak")

    @staticmethod
    def _try_reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")  # "5" resets the peak RSS (VmHWM) to the current RSS
            return True
        except OSError:
            return False

    def reset(self) -> None:
        """From now on the peak is the next phase's own: memory freed before it would otherwise stay resident
        (glibc keeps freed heap pages) and count towards it."""
        if self.resettable:
            gc.collect()
            if self._trim is not None:
                self._trim(0)
            self._try_reset()

    def peak_mb(self) -> float:
        if self.resettable:
            with open("/proc/self/status") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MB


class AcceleratorPeakMemory:
    """Peak allocated/reserved CUDA memory; `None` without a CUDA device (and then not logged)."""

    def __init__(self):
        self.available = torch.cuda.is_available()

    def reset(self) -> None:
        if self.available:
            torch.cuda.reset_peak_memory_stats()

    def peaks_mb(self) -> tuple[float | None, float | None]:
        if not self.available:
            return None, None
        return torch.cuda.max_memory_allocated() / MB, torch.cuda.max_memory_reserved() / MB


def _max(a, b):
    if a is None:
        return b
    return a if b is None else max(a, b)


class PeakMemoryCallback(TrainerCallback):
    """Adds `{phase}_peak_accelerator_memory_mb` (allocated), `..._reserved_mb` and `{phase}_peak_host_memory_mb`
    to the log entry that closes each phase."""

    def __init__(self):
        self.host = HostPeakMemory()
        self.accelerator = AcceleratorPeakMemory()
        self.train_so_far = (None, None, None)

    def _read_and_reset(self) -> tuple:
        allocated, reserved = self.accelerator.peaks_mb()
        peaks = (allocated, reserved, self.host.peak_mb())
        self.accelerator.reset()
        self.host.reset()
        return peaks

    def _fold_into_train(self) -> None:
        self.train_so_far = tuple(_max(a, b) for a, b in zip(self.train_so_far, self._read_and_reset()))

    def on_train_begin(self, args, state, control, **kwargs):
        self._read_and_reset()
        self.train_so_far = (None, None, None)

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_evaluate:  # set by DefaultFlowCallback, which runs before us
            self._fold_into_train()

    on_epoch_end = on_step_end

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None:
            return
        phase = closed_phase(logs)
        if phase == "train":
            self._fold_into_train()
            self._add(logs, state, phase, self.train_so_far)
        elif phase is not None:
            self._add(logs, state, phase, self._read_and_reset())

    def on_predict(self, args, state, control, metrics=None, **kwargs):
        # predict() does not log; its metrics dict is the one returned to the caller.
        metrics.update(self._entries(closed_phase(metrics) or "predict", self._read_and_reset()))

    @staticmethod
    def _entries(phase: str, peaks: tuple) -> dict:
        """Only real measurements: reporters such as TensorBoard cannot plot a None."""
        allocated, reserved, host = peaks
        entries = {
            f"{phase}_peak_accelerator_memory_mb": allocated,
            f"{phase}_peak_accelerator_reserved_mb": reserved,
            f"{phase}_peak_host_memory_mb": host,
        }
        return {key: value for key, value in entries.items() if value is not None}

    def _add(self, logs: dict, state, phase: str, peaks: tuple) -> None:
        entries = self._entries(phase, peaks)
        logs.update(entries)
        # Trainer appended a copy of `logs` to the history before calling us; keep the history complete.
        if state.log_history:
            state.log_history[-1].update(entries)
