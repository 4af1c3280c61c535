"""Paired significance between rows of a comparison (methods and baselines scored on the same articles).

A difference of two corpus means says little on a few hundred articles: per-article ROUGE varies far more
between articles than between systems.  Because every row is scored on the *same* articles, the per-article
differences remove that shared variation, so both the interval and the test here are paired.  The unit of
resampling is always the article; a method trained with several seeds is first reduced to its per-article
mean over seeds (``mean_over_seeds``), so seeds never count as extra articles.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

METHOD_CITATION = (
    "Paired tests on per-article scores: 95% paired bootstrap percentile interval of the mean difference "
    "(Efron & Tibshirani 1993; Koehn 2004), two-sided approximate randomisation test by paired sign-flipping "
    "(Noreen 1989; Riezler & Maxwell 2005), Holm (1979) step-down correction over all pairs."
)

# Bounds one chunk of resamples to about this many array cells (8 MB of float64), whatever the corpus size.
_CHUNK_CELLS = 1_000_000


@dataclass(frozen=True)
class PairedDifference:
    mean_difference: float  # mean over articles of (a - b)
    ci_low: float
    ci_high: float
    p_value: float
    n: int


@dataclass(frozen=True)
class PairComparison:
    label_a: str
    label_b: str
    difference: PairedDifference
    p_holm: float
    significant: bool


def per_article_scores(predictions: list[str], references: list[str]) -> dict[str, np.ndarray]:
    """Per-article ROUGE F1 (rouge1, rouge2, rougeL, rougeLsum) from the same offline metric that produces
    the reported corpus means, so a test is about exactly the numbers in the table."""
    from metrics.scoring import cached_rouge  # lazy: loading `evaluate` is slow and not needed for the maths

    scores = cached_rouge().compute(predictions=predictions, references=references, use_aggregator=False)
    return {rouge_type: np.asarray(values, dtype=float) for rouge_type, values in scores.items()}


def _chunks(total: int, n: int):
    size = max(1, _CHUNK_CELLS // max(n, 1))
    for start in range(0, total, size):
        yield min(size, total - start)


def paired_difference(scores_a, scores_b, n_resamples: int = 10_000, seed: int = 0,
                      confidence: float = 0.95) -> PairedDifference:
    """Mean per-article difference a - b with a paired bootstrap percentile interval and a two-sided
    approximate randomisation p-value.

    The bootstrap draws article indices as ``np.random.default_rng(seed).integers(0, n, size=(n_resamples,
    n))`` (in chunks, which yields the same stream), so the interval can be reproduced independently.  The
    sign flips come from a separate stream, ``default_rng([seed, 1])``, so changing one procedure never moves
    the other's result.  The p-value uses the (count + 1) / (n_resamples + 1) correction, so it is never 0
    and stays valid for a finite number of resamples.
    """
    a = np.asarray(scores_a, dtype=float)
    b = np.asarray(scores_b, dtype=float)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"Per-article scores must be 1-D arrays, got shapes {a.shape} and {b.shape}.")
    if a.shape != b.shape:
        raise ValueError(f"Paired scores need one score per article in both rows, got {a.size} and {b.size}.")
    if a.size == 0:
        raise ValueError("Paired scores need at least one article, got none.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("Per-article scores must be finite (found NaN or inf).")
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}.")
    n_resamples = int(n_resamples)
    diff = a - b
    n = diff.size
    observed = float(diff.mean())

    rng = np.random.default_rng(seed)
    boot_means = np.concatenate([diff[rng.integers(0, n, size=(k, n))].mean(axis=1)
                                 for k in _chunks(n_resamples, n)])
    alpha = 1.0 - confidence
    ci_low, ci_high = np.quantile(boot_means, [alpha / 2, 1 - alpha / 2])

    # Summation order differs between the observed and flipped means; without a tolerance, exact ties
    # (e.g. the identity flip, or zero differences) could be miscounted by one rounding error.
    tol = 1e-9 * float(np.abs(diff).max())
    flip_rng = np.random.default_rng([seed, 1])
    count = 0
    for k in _chunks(n_resamples, n):
        signs = np.where(flip_rng.random((k, n)) < 0.5, -1.0, 1.0)
        count += int(np.count_nonzero(np.abs(signs @ diff) / n >= abs(observed) - tol))
    p_value = (count + 1) / (n_resamples + 1)
    return PairedDifference(observed, float(ci_low), float(ci_high), float(p_value), int(n))


def bootstrap_interval(scores: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean over articles (as the metric's own interval)."""
    rng = np.random.default_rng(seed)
    means = scores[rng.integers(0, scores.size, size=(n_resamples, scores.size))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def mean_over_seeds(seed_scores) -> np.ndarray:
    """Per-article mean over seeds of one method (arrays aligned by article).  Averaging before the test
    keeps the article as the unit of resampling: seeds of one method are not independent articles."""
    arrays = [np.asarray(s, dtype=float) for s in seed_scores]
    if not arrays:
        raise ValueError("mean_over_seeds needs at least one array of per-article scores, got none.")
    lengths = sorted({arr.size for arr in arrays})
    if len(lengths) > 1 or any(arr.ndim != 1 for arr in arrays):
        raise ValueError(f"Seed score arrays must be 1-D and equally long (aligned by article), got lengths "
                         f"{[arr.size for arr in arrays]}.")
    return np.mean(np.vstack(arrays), axis=0)


def align_by_id(rows: dict[str, dict], allow_partial: bool = False) -> tuple[list, dict[str, np.ndarray]]:
    """Arrays of scores on the article ids common to every row, in sorted id order.

    A row missing articles usually means a crashed or truncated generation run, and silently dropping
    those articles would change what every other row is compared on; so by default it is an error that
    names the rows, and ``allow_partial=True`` is the caller's explicit choice to intersect.
    """
    if not rows:
        raise ValueError("align_by_id needs at least one row, got none.")
    id_sets = {label: set(row) for label, row in rows.items()}
    all_ids = set().union(*id_sets.values())
    common = set.intersection(*id_sets.values())
    missing = {label: all_ids - ids for label, ids in id_sets.items() if all_ids - ids}
    if missing and not allow_partial:
        details = "; ".join(f"{label!r} lacks {len(ids)} (e.g. {sorted(ids, key=str)[:3]})"
                            for label, ids in missing.items())
        raise ValueError(f"Rows do not cover the same articles: {details}. Pass allow_partial=True to "
                         f"compare on the {len(common)} common articles.")
    if not common:
        raise ValueError(f"Rows {sorted(rows)} have no article id in common.")
    ids = sorted(common)
    return ids, {label: np.array([row[i] for i in ids], dtype=float) for label, row in rows.items()}


def holm_adjust(p_values) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, in the input order: controls the family-wise error over
    all pairs without Bonferroni's loss of power, and without assuming the pairs are independent."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


def pairwise_matrix(scores: dict[str, np.ndarray], n_resamples: int = 10_000, seed: int = 0,
                    alpha: float = 0.05, confidence: float = 0.95) -> list[PairComparison]:
    """Every unordered pair (label order, i < j) with its paired difference and Holm-adjusted p-value.
    Each pair uses the same seed (common random numbers), so the table is reproducible pair by pair."""
    labels = list(scores)
    pairs = list(combinations(labels, 2))
    diffs = [paired_difference(scores[a], scores[b], n_resamples=n_resamples, seed=seed, confidence=confidence)
             for a, b in pairs]
    p_holm = holm_adjust([d.p_value for d in diffs])
    return [PairComparison(a, b, d, float(p), bool(p < alpha))
            for (a, b), d, p in zip(pairs, diffs, p_holm)]


def indistinguishable_from_best(scores: dict[str, np.ndarray], comparisons: list[PairComparison]) -> set[str]:
    """The best row by mean score plus every row whose (Holm-adjusted) comparison with it is not
    significant: the rows the data cannot rank below the best."""
    best = max(scores, key=lambda label: float(np.mean(scores[label])))
    tied = {best}
    for other in scores:
        if other == best:
            continue
        found = [c for c in comparisons if {c.label_a, c.label_b} == {best, other}]
        if not found:
            raise ValueError(f"No comparison between the best row {best!r} and {other!r}.")
        if not found[0].significant:
            tied.add(other)
    return tied
