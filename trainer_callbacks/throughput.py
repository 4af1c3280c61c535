"""Training throughput in non-padding tokens per second, excluding the time spent evaluating.

Trainer counts tokens itself (`include_num_input_tokens_seen="non_padding"`, gathered over processes);
this callback turns the count into rates: `tokens_per_second` on every periodic training log and
`train_tokens` / `train_tokens_per_second` / `train_seconds_excluding_eval` in the final summary
(replacing Trainer's own `train_tokens_per_second`, which includes padding and evaluation time).
"""

from __future__ import annotations

import logging
import time

from transformers import TrainerCallback

from .phases import closed_phase

logger = logging.getLogger(__name__)


class ThroughputCallback(TrainerCallback):
    def __init__(self):
        self.start = self.last_time = None
        self.start_tokens = self.last_tokens = 0
        self.eval_seconds = self.eval_seconds_since_log = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        if args.include_num_input_tokens_seen != "non_padding":
            logger.warning("set include_num_input_tokens_seen='non_padding' to count training tokens")
        self.start = self.last_time = time.perf_counter()
        self.start_tokens = self.last_tokens = state.num_input_tokens_seen
        self.eval_seconds = self.eval_seconds_since_log = 0.0

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None or self.start is None:
            return
        now, tokens = time.perf_counter(), state.num_input_tokens_seen
        phase = closed_phase(logs)
        if phase == "train":
            seconds = now - self.start - self.eval_seconds
            trained = tokens - self.start_tokens
            entries = {
                "train_tokens": trained,
                "train_seconds_excluding_eval": seconds,
                "train_tokens_per_second": trained / seconds if seconds > 0 else None,
            }
            self.start = None
        elif phase is not None:  # an evaluation inside train(): its time is not training time
            runtime = logs.get(f"{phase}_runtime", 0.0)
            self.eval_seconds += runtime
            self.eval_seconds_since_log += runtime
            return
        elif "loss" in logs:
            seconds = now - self.last_time - self.eval_seconds_since_log
            entries = {"tokens_per_second": (tokens - self.last_tokens) / seconds if seconds > 0 else None}
            self.last_time, self.last_tokens, self.eval_seconds_since_log = now, tokens, 0.0
        else:
            return
        logs.update(entries)
        if state.log_history:
            state.log_history[-1].update(entries)
