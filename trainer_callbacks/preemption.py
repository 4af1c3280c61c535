"""Graceful preemption: on SIGTERM (what schedulers send before killing a job) finish the current step,
save a checkpoint, say how to resume, and stop. A second SIGTERM or a SIGINT then exits at once."""

from __future__ import annotations

import logging
import os
import signal

import torch
from transformers import TrainerCallback

logger = logging.getLogger(__name__)

EXIT_CODE = 143  # 128 + SIGTERM, what a shell reports for a job ended by SIGTERM


class PreemptionCallback(TrainerCallback):
    def __init__(self):
        self.requested = False
        self.checkpoint = None
        self._previous = {}

    def _on_signal(self, signum, frame):
        if self.requested:  # second signal: the user or the scheduler really wants out now
            os._exit(EXIT_CODE)
        self.requested = True
        logger.warning("received %s: saving a checkpoint at the end of this step, then stopping "
                       "(send it again to exit at once)", signal.Signals(signum).name)

    def on_train_begin(self, args, state, control, **kwargs):
        # Every rank: torchrun forwards SIGTERM to all workers, and a rank left with the default action
        # would die mid-collective and leave the others hanging.
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[signum] = signal.signal(signum, self._on_signal)
            except ValueError:  # not the main thread (e.g. inside a notebook worker): leave signals alone
                return

    def on_step_end(self, args, state, control, **kwargs):
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # All ranks stop at the same step, even if only one of them got the signal.
            flag = torch.tensor([int(self.requested)], device=args.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            self.requested = bool(flag.item())
        if self.requested:
            control.should_save = True
            control.should_training_stop = True

    def on_save(self, args, state, control, **kwargs):
        if self.requested:
            self.checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            logger.warning("preempted: checkpoint saved in %s; resume with --output_dir %s "
                           "--resume_from_checkpoint true", self.checkpoint, args.output_dir)

    def on_train_end(self, args, state, control, **kwargs):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
