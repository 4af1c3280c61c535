"""Rerunning a comparison does only what is left: a row that finished with the same inputs is kept, an interrupted
row resumes from its last checkpoint, a row whose inputs changed runs again (`--fresh`: every row runs again).

A row's inputs are its command (without the flags that only say how to start it: overwrite, resume, the baseline
folders a card quotes), the bytes of the data it reads and of the base model it starts from. They are written into
the row's folder (`comparison_row.json`) before the row starts, so an interrupted row can tell its own folder from
a folder left by another command. The run's own `provenance.json` still records what it actually read (the sampled
examples' and the loaded weights' fingerprints); the digests here are of the files, which is cheaper to compute for
every row of every rerun and never misses a change (a changed row that was not sampled reruns too).

The project's own code is not an input: after changing it (or pulling a new version), `--fresh` reruns every row;
the report is always rebuilt, so a report-only change needs no rerun.
"""

from __future__ import annotations

import hashlib
import os

from core import run_folder

ROW_INPUTS = "comparison_row.json"
SKIP, RESUME, RUN = "kept (finished with the same inputs)", "resuming from its last checkpoint", "running"
# Flags that say how a row starts, not what it computes.
START_FLAGS = {"--overwrite_output_dir": 0, "--resume_from_checkpoint": 1}
CHUNK = 1 << 20


def files_digest(paths: list[str]) -> str:
    """SHA-256 of files' names (relative to their common folder) and bytes, in name order."""
    digest = hashlib.sha256()
    root = os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0]) if paths else ""
    for path in sorted(paths):
        digest.update(os.path.relpath(path, root).encode("utf-8") + b"\0")
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def folder_files(folder: str) -> list[str]:
    """Every file under `folder` except hidden ones (caches, locks) and checkpoints."""
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.startswith("checkpoint-"))
        found += [os.path.join(parent, name) for name in files if not name.startswith(".")]
    return found


def source_digest(flags: list[str]) -> str:
    """The data a row reads, from its data flags: the files of a CSV folder or local dataset, else the Hub name
    and configuration (a Hub dataset is identified by its name)."""
    values = dict(zip(flags[::2], flags[1::2], strict=False))
    local = values.get("--data_dir") or values.get("--dataset_name")
    if local and os.path.isdir(local):
        return files_digest(folder_files(local))
    return hashlib.sha256(repr(sorted(values.items())).encode("utf-8")).hexdigest()


def model_digest(name_or_path: str) -> str:
    """A local base model's files (config, weights, tokenizer); a Hub id is identified by its name."""
    if os.path.isdir(name_or_path):
        return files_digest(folder_files(name_or_path))
    return hashlib.sha256(name_or_path.encode("utf-8")).hexdigest()


def identity(command: list[str]) -> list[str]:
    """The command without the flags that only say how it starts."""
    kept, skip = [], 0
    for arg in command:
        if skip:
            skip -= 1
        elif arg in START_FLAGS:
            skip = START_FLAGS[arg]
        else:
            kept.append(arg)
    return kept


def row_inputs(command: list[str], data: str, base_model: str) -> dict:
    return {"command": identity(command), "data_sha256": data, "base_model_sha256": base_model}


def decide(run_dir: str, inputs: dict, fresh: bool) -> str:
    """SKIP, RESUME or RUN for a row about to start with `inputs`."""
    recorded = run_folder.read_json(os.path.join(run_dir, ROW_INPUTS)) if os.path.isdir(run_dir) else None
    if fresh or recorded != inputs:
        return RUN
    if run_folder.is_finished(run_dir):
        return SKIP
    if run_folder.checkpoint_folders(run_dir) or run_folder.training_finished(run_dir):
        return RESUME
    return RUN


def start_flags(decision: str) -> list[str]:
    """How the row's command starts: over whatever the folder holds, or from its last checkpoint."""
    return ["--resume_from_checkpoint", "true"] if decision == RESUME else ["--overwrite_output_dir"]


def record(run_dir: str, inputs: dict) -> None:
    run_folder.write_json(run_dir, ROW_INPUTS, inputs)
