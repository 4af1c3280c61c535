"""Training throughput in non-padding tokens per second, excluding the time spent evaluating, and the cost of
the whole run when it was resumed from a checkpoint.

Trainer counts tokens itself (`include_num_input_tokens_seen="non_padding"`, gathered over processes);
this callback turns the count into rates: `tokens_per_second` on every periodic training log and
`train_tokens` / `train_tokens_per_second` / `train_seconds_excluding_eval` in the final summary
(replacing Trainer's own `train_tokens_per_second`, which includes padding and evaluation time).

Trainer's final summary covers only the last `train()` call: after a resume, `train_runtime` and
`train_loss` (and the counts behind the rates) are that session's. The totals up to each checkpoint are
saved in it (`stateful_callbacks` in trainer_state.json), so a resumed run's summary is the whole run's:
the same tokens and loss as an uninterrupted run, and the sum of its sessions' training time (work done after
the last checkpoint of a killed session is lost, and not counted).
"""

from __future__ import annotations

import logging
import time

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from .phases import closed_phase

logger = logging.getLogger(__name__)

NOTHING_YET = {"seconds": 0.0, "seconds_excluding_eval": 0.0, "tokens": 0, "loss_sum": 0.0}


class ThroughputCallback(TrainerCallback, ExportableState):
    """Rates Trainer does not give (tokens, not padding; training time without evaluations), and totals that
    survive a resume."""

    def __init__(self):
        self.start = self.last_time = self._state = None
        self.start_tokens = self.last_tokens = self.start_step = self.last_logged_step = 0
        self.eval_seconds = self.eval_seconds_since_log = self.loss_sum = 0.0
        self.carried = dict(NOTHING_YET)  # earlier sessions, up to the checkpoint this one resumed from
        self.resumed = False

    def state(self) -> dict:
        return {"args": {}, "attributes": {"totals": self._totals()}}

    def _totals(self) -> dict:
        if self.start is None:
            return dict(self.carried)
        seconds = time.perf_counter() - self.start
        return {
            "seconds": self.carried["seconds"] + seconds,
            "seconds_excluding_eval": self.carried["seconds_excluding_eval"] + seconds - self.eval_seconds,
            "tokens": self.carried["tokens"] + self._state.num_input_tokens_seen - self.start_tokens,
            "loss_sum": self.carried["loss_sum"] + self.loss_sum,
        }

    def on_train_begin(self, args, state, control, **kwargs):
        if args.include_num_input_tokens_seen != "non_padding":
            logger.warning("set include_num_input_tokens_seen='non_padding' to count training tokens")
        name = type(self).__name__
        # Read from the resumed state, not from attributes restored onto this object: transformers restores
        # callbacks only with restore_callback_states_from_checkpoint, and then as new instances.
        saved = state.stateful_callbacks.get(name) if state.global_step else None
        totals = saved.get("attributes", {}).get("totals") if isinstance(saved, dict) else None
        if state.global_step and totals is None:
            logger.warning("the checkpoint holds no run totals: train_runtime and train_loss cover this session only")
        self.carried, self.resumed = {**NOTHING_YET, **(totals or {})}, totals is not None
        self._state = state
        self.start = self.last_time = time.perf_counter()
        self.start_tokens = self.last_tokens = state.num_input_tokens_seen
        self.start_step = self.last_logged_step = state.global_step
        self.eval_seconds = self.eval_seconds_since_log = self.loss_sum = 0.0
        # Trainer's next save updates this entry, and fails if a checkpoint written without it was resumed.
        state.stateful_callbacks[name] = self.state()

    def on_step_end(self, args, state, control, **kwargs):
        # A checkpoint's loss total is exact only if the loss of every step before it has been logged: the
        # steps since the last log sit in Trainer's private accumulator.
        if control.should_save or control.should_evaluate:  # evaluating: a new best may be saved
            control.should_log = True

    on_epoch_end = on_step_end

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None or self.start is None:
            return
        now, tokens = time.perf_counter(), state.num_input_tokens_seen
        phase = closed_phase(logs)
        if phase == "train":
            # Trainer's train_loss is the mean over this session's steps, those after the last log included.
            self.loss_sum = logs["train_loss"] * (state.global_step - self.start_step)
            entries = self._summary(logs, state, now)
            self.carried, self.start = self._totals(), None  # state() stays the run's totals after training
        elif phase is not None:  # an evaluation inside train(): its time is not training time
            runtime = logs.get(f"{phase}_runtime", 0.0)
            self.eval_seconds += runtime
            self.eval_seconds_since_log += runtime
            return
        elif "loss" in logs:
            self.loss_sum += logs["loss"] * (state.global_step - self.last_logged_step)  # a mean over those steps
            self.last_logged_step = state.global_step
            seconds = now - self.last_time - self.eval_seconds_since_log
            entries = {"tokens_per_second": (tokens - self.last_tokens) / seconds if seconds > 0 else None}
            self.last_time, self.last_tokens, self.eval_seconds_since_log = now, tokens, 0.0
        else:
            return
        logs.update(entries)
        if state.log_history:
            state.log_history[-1].update(entries)

    def _summary(self, logs: dict, state, now: float) -> dict:
        seconds = self.carried["seconds_excluding_eval"] + now - self.start - self.eval_seconds
        tokens = self.carried["tokens"] + state.num_input_tokens_seen - self.start_tokens
        entries = {
            "train_tokens": tokens,
            "train_seconds_excluding_eval": seconds,
            "train_tokens_per_second": tokens / seconds if seconds > 0 else None,
        }
        if not self.resumed:  # one session: Trainer's own figures are the run's
            return entries
        runtime = self.carried["seconds"] + logs["train_runtime"]
        entries["train_runtime"] = runtime
        entries["train_loss"] = (self.carried["loss_sum"] + self.loss_sum) / state.global_step
        session_steps = state.global_step - self.start_step
        if session_steps:  # Trainer's rates count this session's samples and steps over this session's time
            scale = logs["train_runtime"] / runtime * state.global_step / session_steps
            for key in ("train_samples_per_second", "train_steps_per_second"):
                if logs.get(key) is not None:
                    entries[key] = logs[key] * scale
        return entries
