"""Trainer callbacks that put cost figures (memory, throughput) into the Trainer logs.

They edit log entries in `on_log`, so they must run before the reporting callbacks (TensorBoard,
printing): `insert_before_reporters` puts them right after Trainer's flow callback.
"""

from transformers.trainer_callback import DefaultFlowCallback

from .memory import PeakMemoryCallback
from .phases import closed_phase
from .preemption import PreemptionCallback
from .throughput import ThroughputCallback


def insert_before_reporters(trainer, callbacks) -> None:
    handler = trainer.callback_handler.callbacks
    position = next(i for i, cb in enumerate(handler) if isinstance(cb, DefaultFlowCallback)) + 1
    handler[position:position] = list(callbacks)


__all__ = ["PeakMemoryCallback", "PreemptionCallback", "ThroughputCallback", "closed_phase", "insert_before_reporters"]
