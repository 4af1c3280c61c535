"""Graceful preemption: on SIGTERM (what schedulers send before killing a job) finish the current step,
save a checkpoint, say how to resume, and stop; a first SIGINT (Ctrl-C) does the same. A second signal of
either kind then exits at once. A signal
during an evaluation or a checkpoint save stops the run after it, at that step's checkpoint. With several
processes, all of them stop at the same step, even when only one was signalled.

The resumed run must be the uninterrupted one: stopped mid-epoch, the run saves without evaluating (an
evaluation there would take part in best-model choice, early stopping and checkpoint rotation), and the
resumed run removes that extra checkpoint once it has saved a newer one; stopped on an epoch's last step, the
scheduled evaluation and save happen first, once.

After training (final save, evaluation, prediction) there is nothing to checkpoint: a signal ends the run at
once with the same exit code and a line saying how to finish it, except while the final weights are being
written (`writing_final_weights`), which completes first so the run folder never holds half a model file."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal

import torch
from transformers import TrainerCallback
from transformers.trainer_utils import SaveStrategy

logger = logging.getLogger(__name__)

EXIT_CODE = 143  # 128 + SIGTERM, what a shell reports for a job ended by SIGTERM


class PreemptionCallback(TrainerCallback):
    """Installs its signal handlers when training begins (or at `install`); `close()` when the run ends."""

    def __init__(self):
        self.requested = False  # during training: checkpoint at the end of the step, then stop
        self.checkpoint = None
        self._args = None
        self._previous = {}
        self._training = False
        self._writing = False
        self._pending = None  # a signal that arrived while the final weights were being written
        self._saved_step = None
        self._extra_checkpoint = None  # resumed from an off-schedule checkpoint: removed once a newer one exists

    def install(self, args) -> None:
        """Handle SIGTERM/SIGINT from now on (training calls it too); `close()` gives them back."""
        # Every rank: torchrun forwards SIGTERM to all workers, and a rank left with the default action
        # would die mid-collective and leave the others hanging.
        self._args = args
        if self._previous:
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[signum] = signal.signal(signum, self._on_signal)
            except ValueError:  # not the main thread (e.g. inside a notebook worker): leave signals alone
                return

    def close(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _on_signal(self, signum, frame):
        name = signal.Signals(signum).name
        if self.requested or self._pending is not None:  # second signal: the user or scheduler really wants out
            os._exit(EXIT_CODE)
        if self._training:
            self.requested = True
            logger.warning("received %s: saving a checkpoint at the end of this step, then stopping "
                           "(send it again to exit at once)", name)
        elif self._writing:
            self._pending = name
            logger.warning("received %s while writing the final weights: finishing them, then stopping "
                           "(send it again to exit at once)", name)
        else:
            self._stop(name)

    def _stop(self, name: str):
        out = self._args.output_dir
        how = f"--output_dir {out} --resume_from_checkpoint true" if self._args.do_train else "the same command"
        logger.error("%s after training: the run is unfinished (no all_results.json); finish it with %s",
                     name, how)
        raise SystemExit(EXIT_CODE)

    @contextlib.contextmanager
    def writing_final_weights(self):
        """A signal inside this block stops the run after it, not in the middle of a file."""
        self._writing = True
        try:
            yield
        finally:
            self._writing = False
        if self._pending is not None:
            self._stop(self._pending)

    def on_train_begin(self, args, state, control, **kwargs):
        self.install(args)
        self._training = True
        self._saved_step = None
        self._extra_checkpoint = None
        if state.global_step > 0 and not scheduled_save(args, state):
            self._extra_checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")

    def _requested_anywhere(self, args) -> bool:
        """Whether any process has been signalled. Every process asks at the same points (a step's end, an
        epoch's end, a checkpoint save), so all of them decide alike, even when only one got the signal, or
        got it a moment after the others: a process that stopped or saved alone would leave the others
        waiting."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            flag = torch.tensor([int(self.requested)], device=args.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            self.requested = bool(flag.item())
        return self.requested

    def on_step_end(self, args, state, control, **kwargs):
        if self._requested_anywhere(args):
            # Leaving the step loop, Trainer still ends the epoch: the checkpoint is saved there (on_epoch_end),
            # after whatever the schedule does at this step.
            control.should_training_stop = True

    def on_epoch_end(self, args, state, control, **kwargs):
        if not self._requested_anywhere(args):
            return
        # Also when the signal came after the epoch's last step had ended (while it logged or evaluated): stop
        # here, not one step into the next epoch.
        control.should_training_stop = True
        if not float(state.epoch).is_integer():
            # Stopped mid-epoch: DefaultFlowCallback has just asked for the end-of-epoch evaluation. On the
            # epoch's last step it is the scheduled one, and must stay: the resumed run starts the next epoch.
            control.should_evaluate = False
        control.should_save = self._saved_step != state.global_step  # once, even if the schedule saved here
        if not control.should_save and self.checkpoint is None:
            self._stopping(args, state)  # the schedule saved at this step before the signal came
        control.should_log = True  # the loss up to the checkpoint is in the log, so run totals can carry it

    def on_save(self, args, state, control, **kwargs):
        self._saved_step = state.global_step
        extra = self._extra_checkpoint
        if extra is not None and args.should_save and extra != state.best_model_checkpoint:
            # An uninterrupted run never makes this checkpoint; with a newer one complete, resuming needs it no more.
            shutil.rmtree(extra, ignore_errors=True)
            self._extra_checkpoint = None
        if self._requested_anywhere(args):
            # Also when the signal came during this step's evaluation or save, after its end was checked: this
            # checkpoint is the one to resume from. Training on to the next step would save another one, with
            # the best checkpoint forgotten (below).
            control.should_training_stop = True
            self._stopping(args, state)

    def _stopping(self, args, state) -> None:
        # Ending train(), Trainer loads the best weights and, with save_total_limit 1, deletes every
        # checkpoint but the best: this one, needed to resume, too. The run stops here; the saved state keeps
        # the best.
        state.best_model_checkpoint = None
        self.checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        logger.warning("preempted: checkpoint saved in %s; resume with --output_dir %s "
                       "--resume_from_checkpoint true", self.checkpoint, args.output_dir)

    def on_train_end(self, args, state, control, **kwargs):
        self._training = False


def scheduled_save(args, state) -> bool:
    """Whether the save schedule (DefaultFlowCallback's rule, or a new best) puts a checkpoint at this step."""
    if args.save_strategy == SaveStrategy.EPOCH:
        return float(state.epoch).is_integer()
    if args.save_strategy == SaveStrategy.STEPS:
        return state.global_step % state.save_steps == 0 or state.global_step >= state.max_steps
    return args.save_strategy == SaveStrategy.BEST and state.best_global_step == state.global_step
