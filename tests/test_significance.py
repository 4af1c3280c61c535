"""Tests for metrics/significance.py: paired bootstrap interval, approximate randomisation, Holm, alignment."""

from __future__ import annotations

import numpy as np
import pytest

from metrics import significance
from metrics.significance import (
    METHOD_CITATION,
    PairComparison,
    align_by_id,
    holm_adjust,
    indistinguishable_from_best,
    mean_over_seeds,
    paired_difference,
    pairwise_matrix,
    per_article_scores,
)

# Hand-chosen per-article scores for 10 articles: a is mostly, but not always, ahead of b.
A10 = np.array([0.42, 0.35, 0.51, 0.28, 0.46, 0.39, 0.33, 0.55, 0.30, 0.44])
B10 = np.array([0.38, 0.36, 0.45, 0.29, 0.40, 0.41, 0.30, 0.47, 0.31, 0.43])


def exact_randomisation_p(diff: np.ndarray) -> float:
    """Two-sided exact paired randomisation p-value: all 2^n sign assignments, identity included."""
    n = diff.size
    signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
    flipped = np.abs(signs @ diff) / n
    return float(np.mean(flipped >= abs(diff.mean()) - 1e-12))


def test_randomisation_p_matches_exact_enumeration():
    exact = exact_randomisation_p(A10 - B10)
    assert 0.01 < exact < 0.5  # informative: neither trivially small nor 1
    result = paired_difference(A10, B10, n_resamples=20_000, seed=3)
    assert result.p_value == pytest.approx(exact, abs=0.01)
    assert result.mean_difference == pytest.approx(float(np.mean(A10 - B10)), abs=1e-15)
    assert result.n == 10


def test_bootstrap_interval_equals_independent_reimplementation(monkeypatch):
    # A tiny chunk forces several chunks, checking that chunked draws reproduce one big draw.
    monkeypatch.setattr(significance, "_CHUNK_CELLS", 70)
    seed, n_resamples, confidence = 7, 2_000, 0.9
    result = paired_difference(A10, B10, n_resamples=n_resamples, seed=seed, confidence=confidence)

    diff = A10 - B10
    indices = np.random.default_rng(seed).integers(0, diff.size, size=(n_resamples, diff.size))
    means = np.array([diff[row].mean() for row in indices])  # plain loop, no vectorisation shared
    low, high = np.quantile(means, [0.05, 0.95])
    assert result.ci_low == low
    assert result.ci_high == high
    assert result.ci_low < result.mean_difference < result.ci_high


def test_identical_rows_give_zero_difference_and_p_one():
    result = paired_difference(A10, A10.copy(), n_resamples=500)
    assert result.mean_difference == 0.0
    assert result.ci_low == result.ci_high == 0.0
    assert result.p_value == 1.0


def test_clearly_better_row_is_significant():
    rng = np.random.default_rng(11)
    a = rng.uniform(0.2, 0.6, size=30)
    b = a - 0.2 + rng.normal(0.0, 0.05, size=30)
    result = paired_difference(a, b, n_resamples=5_000)
    assert result.p_value < 0.01
    assert result.p_value == pytest.approx(1 / 5_001)  # no flip reaches the observed mean: the +1 floor
    assert 0.0 < result.ci_low < result.mean_difference < result.ci_high
    reverse = paired_difference(b, a, n_resamples=5_000)
    assert reverse.mean_difference == pytest.approx(-result.mean_difference)
    assert reverse.ci_high < 0.0


def test_confidence_level_is_used():
    wide = paired_difference(A10, B10, n_resamples=4_000, confidence=0.95)
    narrow = paired_difference(A10, B10, n_resamples=4_000, confidence=0.5)
    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high
    assert narrow.p_value == wide.p_value  # the test does not depend on the interval's level


def test_seeded_results_are_reproducible():
    assert paired_difference(A10, B10, n_resamples=1_000, seed=5) == paired_difference(A10, B10, 1_000, 5)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [([0.1, 0.2], [0.1], "one score per article"), ([], [], "at least one article"),
     ([0.1, float("nan")], [0.1, 0.2], "finite")],
)
def test_invalid_inputs_raise(a, b, message):
    with pytest.raises(ValueError, match=message):
        paired_difference(a, b, n_resamples=10)


def test_holm_matches_hand_computation_and_is_monotone():
    # Sorted: 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> raised to 0.06 by monotonicity.
    np.testing.assert_allclose(holm_adjust([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm_adjust([0.5, 0.6, 0.9]), [1.0, 1.0, 1.0])  # capped at 1
    raw = np.random.default_rng(0).uniform(0, 0.2, size=8)
    adjusted = holm_adjust(raw)
    order = np.argsort(raw)
    assert np.all(np.diff(adjusted[order]) >= 0)
    assert np.all(adjusted >= raw) and np.all(adjusted <= 1.0)


def test_pairwise_matrix_and_indistinguishable_from_best():
    rng = np.random.default_rng(2)
    best = rng.uniform(0.3, 0.6, size=40)
    scores = {
        "full": best,
        "lora": best - 0.002 + rng.normal(0.0, 0.03, size=40),  # within noise of the best
        "lead-3": best - 0.15 + rng.normal(0.0, 0.03, size=40),  # clearly worse
    }
    comparisons = pairwise_matrix(scores, n_resamples=2_000)
    assert [(c.label_a, c.label_b) for c in comparisons] == [("full", "lora"), ("full", "lead-3"),
                                                             ("lora", "lead-3")]
    assert all(isinstance(c, PairComparison) for c in comparisons)
    np.testing.assert_allclose([c.p_holm for c in comparisons],
                               holm_adjust([c.difference.p_value for c in comparisons]))
    by_pair = {(c.label_a, c.label_b): c for c in comparisons}
    assert not by_pair["full", "lora"].significant
    assert by_pair["full", "lead-3"].significant and by_pair["lora", "lead-3"].significant
    assert all(c.significant == (c.p_holm < 0.05) for c in comparisons)
    assert indistinguishable_from_best(scores, comparisons) == {"full", "lora"}


def test_mean_over_seeds_is_the_per_article_average():
    seeds = [[0.2, 0.4, 0.6], [0.4, 0.4, 0.0], [0.3, 0.1, 0.3]]
    np.testing.assert_allclose(mean_over_seeds(seeds), [0.3, 0.3, 0.3])
    with pytest.raises(ValueError, match="equally long"):
        mean_over_seeds([[0.1, 0.2], [0.1]])


def test_align_by_id_sorts_requires_full_coverage_or_intersects():
    rows = {
        "lora": {"b": 0.2, "a": 0.1, "c": 0.3},
        "zero-shot": {"c": 0.6, "a": 0.4},
        "head": {"a": 0.7, "b": 0.8, "c": 0.9},
    }
    with pytest.raises(ValueError, match="'zero-shot' lacks 1") as excinfo:
        align_by_id(rows)
    assert "lora" not in str(excinfo.value) and "'b'" in str(excinfo.value)
    ids, arrays = align_by_id(rows, allow_partial=True)
    assert ids == ["a", "c"]
    np.testing.assert_array_equal(arrays["lora"], [0.1, 0.3])
    np.testing.assert_array_equal(arrays["zero-shot"], [0.4, 0.6])
    full_ids, full = align_by_id({k: v for k, v in rows.items() if k != "zero-shot"})
    assert full_ids == ["a", "b", "c"]
    np.testing.assert_array_equal(full["head"], [0.7, 0.8, 0.9])


def test_per_article_scores_use_the_project_metric():
    from metrics.scoring import summary_scores

    predictions = ["the cat sat on the mat", "stock markets rallied today", "police arrested two men"]
    references = ["the cat sat on the mat", "heavy rain flooded villages", "two men were arrested by police"]
    scores = per_article_scores(predictions, references)
    assert set(scores) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    for rouge_type, values in scores.items():
        assert values.shape == (3,)
        assert values[0] == pytest.approx(1.0), rouge_type
        assert values[1] == 0.0, rouge_type
        assert 0.0 < values[2] < 1.0 or rouge_type == "rouge2"
    reported = summary_scores(predictions, references, n_bootstrap=10)
    for rouge_type in ("rougeL", "rougeLsum", "rouge1", "rouge2"):
        assert scores[rouge_type].mean() == pytest.approx(reported[f"eval_{rouge_type}"], abs=1e-12)


def test_method_citation_names_the_methods():
    for name in ("bootstrap", "Efron", "Koehn", "randomisation", "Noreen", "Riezler", "Holm"):
        assert name in METHOD_CITATION
