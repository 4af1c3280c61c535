"""Atomic checkpoints. Trainer writes a checkpoint file by file (weights, optimizer, scheduler, RNG, trainer
state) straight into `checkpoint-N/`, so a process killed mid-save (SIGKILL after a scheduler's grace period,
the OOM killer) left a folder that looked like a checkpoint. Here Trainer writes into
`tmp-checkpoint-N/checkpoint-N/`, and the complete folder is renamed to `checkpoint-N` in one step: a
`checkpoint-N` folder is always whole, and older checkpoints are only rotated away after the new one is in place.
`tmp-` names are invisible to `--resume_from_checkpoint true`, `get_last_checkpoint` and rotation; one left
by a kill is removed, with a warning, by the next save."""

from __future__ import annotations

import logging
import os
import shutil

from transformers.trainer_utils import rotate_checkpoints

from core.run_folder import CHECKPOINT_PREFIX, STAGING_PREFIX, TRAINER_STATE, staging_folders

logger = logging.getLogger(__name__)


def _fsync_tree(folder: str) -> None:
    # A rename survives a power cut only if the data it points at was on disk first.
    for root, _, names in os.walk(folder):
        for name in names:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(root)


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems cannot sync a directory; the rename is still atomic
        pass
    finally:
        os.close(fd)


def save_checkpoint_atomically(trainer, save, model, trial) -> None:
    """`save` is the stock `Trainer._save_checkpoint`; it runs with its output folder pointed at a staging folder."""
    args = trainer.args
    run_dir = trainer._get_output_dir(trial)
    name = f"{CHECKPOINT_PREFIX}-{trainer.state.global_step}"
    staging, final = os.path.join(run_dir, STAGING_PREFIX + name), os.path.join(run_dir, name)
    written = os.path.join(staging, name)
    if args.should_save:
        for stale in staging_folders(run_dir):
            logger.warning("removing %s: a checkpoint save cut off by a kill (never resumed from)", stale)
            shutil.rmtree(stale)
    trainer.accelerator.wait_for_everyone()  # no rank writes into a folder still being removed

    # Every rank writes its files (RNG states) under the same staging name; rotation inside `save` sees only
    # the staging folder and deletes nothing.
    trainer._get_output_dir = lambda trial: staging
    try:
        save(model, trial)
    finally:
        del trainer._get_output_dir
    if trainer.state.best_model_checkpoint == written:  # Trainer records the path it wrote to
        trainer.state.best_model_checkpoint = final
    trainer.accelerator.wait_for_everyone()  # every rank's files are in

    if args.should_save:
        # trainer_state.json was written with the staging path as best_model_checkpoint; a resumed run reads it.
        trainer.state.save_to_json(os.path.join(written, TRAINER_STATE))
        _fsync_tree(staging)
        if os.path.isdir(final):  # the same step saved before (resumed from an earlier checkpoint): replace it
            os.replace(final, os.path.join(staging, "replaced"))
        os.replace(written, final)
        _fsync_dir(run_dir)
        shutil.rmtree(staging)
        rotate_checkpoints(output_dir=run_dir, save_total_limit=args.save_total_limit,
                           best_model_checkpoint=trainer.state.best_model_checkpoint, use_mtime=True)
    trainer.accelerator.wait_for_everyone()  # no rank reads checkpoint-N before it exists
