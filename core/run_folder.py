"""A run folder: the files a run writes, in the order it writes them, and the questions asked of one.

    run_results.json             at the start: method, base model, parameter counts (which method made this run)
    checkpoint-N/                during training; written under tmp-checkpoint-N/ and renamed once complete
    <method's files>             the final weights (the method's row in `peft_methods` names them)
    train_results.json           after the final weights: training is finished
    eval_results.json, predict_results.json, generated_predictions.jsonl
    prompt_format.json, generation_config.json     what summarize.py needs to reproduce the summaries
    all_results.json             last: the run is finished
    README.md                    the model card

The entry script, the baselines, the report, the Hub upload and summarize.py ask this module, never a file name.
"""

from __future__ import annotations

import json
import logging
import os
import shutil

from .errors import BadInputError

logger = logging.getLogger(__name__)

RUN_RESULTS = "run_results.json"
TRAIN_RESULTS = "train_results.json"
RESULTS = "all_results.json"
PREDICTIONS = "generated_predictions.jsonl"
PROMPT_FORMAT = "prompt_format.json"
GENERATION_CONFIG = "generation_config.json"
TRAINER_STATE = "trainer_state.json"  # also the last file of a checkpoint: a checkpoint without it is cut off
PROVENANCE = "provenance.json"
LOSS_PLOT = "loss_curves.png"
MODEL_CARD = "README.md"
ERROR = "error.txt"  # a failed row of a comparison: why it failed
CHECKPOINT_PREFIX = "checkpoint"
STAGING_PREFIX = "tmp-"
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
                   "added_tokens.json", "chat_template.jinja"]
# What every run folder may hold besides the method's own weights; a Hub upload takes these and the method's.
SHARED_FILES = [MODEL_CARD, "*results.json", PREDICTIONS, TRAINER_STATE, "*.png", PROMPT_FORMAT, GENERATION_CONFIG,
                PROVENANCE, *TOKENIZER_FILES]


def require_folder(path: str, what: str = "run folder") -> None:
    """A missing folder is named as missing, with the closest names beside it (a typo is the usual cause)."""
    if os.path.isdir(path):
        return
    import difflib

    parent = os.path.dirname(os.path.normpath(path)) or "."
    siblings = sorted(name for name in os.listdir(parent) if os.path.isdir(os.path.join(parent, name))) \
        if os.path.isdir(parent) else []
    close = difflib.get_close_matches(os.path.basename(os.path.normpath(path)), siblings, n=3)
    hint = f"; did you mean {' or '.join(os.path.join(parent, name) for name in close)}?" if close else ""
    raise BadInputError(f"{what} {path} does not exist{hint}")


def read_json(path: str):
    """The file's JSON value, or None when it is missing or unreadable (a run cut off while writing it)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_json(run_dir: str, name: str, payload) -> str:
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=4, sort_keys=True, ensure_ascii=False)
    return path


# ---------------------------------------------------------------- questions


def is_finished(run_dir: str) -> bool:
    return os.path.isfile(os.path.join(run_dir, RESULTS))


def training_finished(run_dir: str) -> bool:
    """The final weights are saved (train_results.json is written right after them)."""
    return os.path.isfile(os.path.join(run_dir, TRAIN_RESULTS))


def read_results(run_dir: str) -> dict:
    """all_results.json of a finished run."""
    results = read_json(os.path.join(run_dir, RESULTS))
    if not isinstance(results, dict):
        raise BadInputError(f"{run_dir}: no readable {RESULTS}; the run has not finished (run it first)")
    return results


def recorded_run(run_dir: str) -> dict:
    """What the run recorded about itself at its start (method, base model), from its results; {} if nothing."""
    for name in (RESULTS, RUN_RESULTS):
        recorded = read_json(os.path.join(run_dir, name))
        if isinstance(recorded, dict) and recorded.get("method"):
            return recorded
    return {}


def latest_complete_checkpoint(run_dir: str) -> str | None:
    """The newest checkpoint whose save finished. Saves are written under tmp-checkpoint-N/ and renamed, so a
    cut-off save is never named checkpoint-N; a checkpoint-N without trainer_state.json (left by versions that
    wrote in place) is skipped too, never resumed from."""
    if not os.path.isdir(run_dir):
        return None
    for folder in staging_folders(run_dir):
        logger.warning("ignoring %s: a checkpoint save cut off by a kill (the next save removes it)", folder)
    for folder in checkpoint_folders(run_dir, newest_first=True):
        if os.path.isfile(os.path.join(folder, TRAINER_STATE)):
            return folder
        logger.warning("%s is incomplete (no %s; the save was cut off): skipping it", folder, TRAINER_STATE)
    return None


def checkpoint_folders(run_dir: str, newest_first: bool = False) -> list[str]:
    if not os.path.isdir(run_dir):
        return []
    steps = sorted(int(name.split("-")[1]) for name in os.listdir(run_dir)
                   if name.startswith(f"{CHECKPOINT_PREFIX}-") and name.split("-")[1].isdigit()
                   and os.path.isdir(os.path.join(run_dir, name)))
    return [os.path.join(run_dir, f"{CHECKPOINT_PREFIX}-{step}") for step in (steps[::-1] if newest_first else steps)]


def staging_folders(run_dir: str) -> list[str]:
    """Folders of checkpoint saves that were cut off (or, while a save runs, the one being written)."""
    if not os.path.isdir(run_dir):
        return []
    return sorted(os.path.join(run_dir, name) for name in os.listdir(run_dir)
                  if name.startswith(f"{STAGING_PREFIX}{CHECKPOINT_PREFIX}-")
                  and os.path.isdir(os.path.join(run_dir, name)))


def clear_previous_run(run_dir: str) -> None:
    """Before a run replaces another in the same folder: the old results would mark the unfinished new run as
    finished (or its training as done), and the old checkpoints would be taken for the new run's by rotation
    and --resume_from_checkpoint."""
    for name in os.listdir(run_dir):
        path = os.path.join(run_dir, name)
        if name.endswith("_results.json") and os.path.isfile(path):
            os.remove(path)
        elif name.startswith((f"{CHECKPOINT_PREFIX}-", f"{STAGING_PREFIX}{CHECKPOINT_PREFIX}-")) and os.path.isdir(path):
            shutil.rmtree(path)


# ---------------------------------------------------------------- predictions and generation settings


def write_predictions(run_dir: str, ids: list[str], references: list[str], predictions: list[str]) -> str:
    path = os.path.join(run_dir, PREDICTIONS)
    with open(path, "w", encoding="utf-8") as handle:
        for example_id, reference, prediction in zip(ids, references, predictions, strict=True):
            handle.write(json.dumps({"id": example_id, "reference": reference, "prediction": prediction},
                                    ensure_ascii=False) + "\n")
    return path


def read_predictions(run_dir: str) -> list[dict]:
    """The run's test summaries, one dict (id, reference, prediction) per article, in test order."""
    path = os.path.join(run_dir, PREDICTIONS)
    if not os.path.isfile(path):
        raise BadInputError(f"{run_dir}: no {PREDICTIONS}; the run did not predict (--do_predict)")
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                row = json.loads(line)
                rows.append({"id": str(row["id"]), "reference": row["reference"], "prediction": row["prediction"]})
            except (ValueError, KeyError, TypeError) as error:
                raise BadInputError(f"{path} line {number}: not a prediction record ({error}); "
                                    "rerun the run's prediction") from error
    return rows


def read_generation_config(run_dir: str):
    """The generation settings the run's summaries were made with."""
    from transformers import GenerationConfig

    if not os.path.isfile(os.path.join(run_dir, GENERATION_CONFIG)):
        raise BadInputError(f"{run_dir} has no {GENERATION_CONFIG}; it is not a finished run of "
                            "run_summarization.py (or was copied without it)")
    return GenerationConfig.from_pretrained(run_dir)
