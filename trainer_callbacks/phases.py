"""Which phase a Trainer log entry closes."""

from __future__ import annotations


def closed_phase(logs: dict) -> str | None:
    """'train' for the summary that ends `train()`, the metric prefix ('eval', 'predict', ...) for the
    entry that ends an evaluation, None for periodic training logs.

    Periodic training logs can carry `train_runtime` too (Trainer adds speed metrics when it counts
    tokens), so the end of training is recognised by `train_loss`, which only the final summary has.
    """
    if "train_loss" in logs:
        return "train"
    for key in logs:
        if key.endswith("_runtime") and key != "train_runtime":
            return key[: -len("_runtime")]
    return None
