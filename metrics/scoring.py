"""One scoring path for every row of a comparison: model runs, zero-shot and lead-3 alike."""

from __future__ import annotations

import functools

from . import load_rouge


@functools.lru_cache(maxsize=1)
def cached_rouge():
    return load_rouge()


def summary_scores(predictions: list[str], references: list[str], generated_lengths: list[int] | None = None,
                   prefix: str = "eval", n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """`{prefix}_rouge1` ... `{prefix}_rougeLsum` (F1 in [0, 1]) with `_precision`, `_recall`, `_ci_low`,
    `_ci_high`, plus `{prefix}_gen_len` (mean generated tokens, when lengths are given) and
    `{prefix}_generated_samples`."""
    scores = cached_rouge().compute(predictions=predictions, references=references, n_bootstrap=n_bootstrap,
                                    seed=seed)
    metrics = {f"{prefix}_{key}": value for key, value in scores.items()}
    metrics[f"{prefix}_gen_len"] = (sum(generated_lengths) / len(generated_lengths)) if generated_lengths else None
    metrics[f"{prefix}_generated_samples"] = len(predictions)
    return metrics
