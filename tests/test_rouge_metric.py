"""Tests for the offline ROUGE metric (metrics/rouge/rouge.py) and the sentence splitter."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rouge_score import rouge_scorer

from metrics import ROUGE_METRIC_PATH, load_rouge, split_sentences

REPO_ROOT = Path(__file__).resolve().parents[1]
TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
KEYS = [f"{t}{suffix}" for t in TYPES for suffix in ("", "_precision", "_recall", "_ci_low", "_ci_high")]

# (prediction, reference): references are CNN/DailyMail-style newline-separated highlights or prose;
# predictions are mostly single paragraphs, as a language model writes them.
PAIRS = [
    (
        "Mr. Smith paid $3.5 million for the house. He moved in on Jan. 5 with his family.",
        "Mr. Smith bought the house for $3.5 million .\nHe and his family moved in on January 5 .",
    ),
    (
        "The U.S. team won the final 2-1. Fans cheered in the streets of Chicago!",
        "U.S. beat Spain 2-1 in the final .\nThousands of fans celebrated in Chicago .",
    ),
    (
        "Police arrested two men on Friday. The victim was taken to St. Mary's hospital.",
        "The victim was taken to St. Mary's Hospital .\nPolice arrested two men on Friday night .",
    ),
    (
        "Dr. Jones said the vaccine was 95.1% effective in trials. It will be available next year.",
        "Vaccine was 95.1% effective in trials, Dr. Jones says .\nIt could be available early next year .",
    ),
    (
        "Apple Inc. reported record profits. Shares rose 4% in after-hours trading.",
        "Apple reports record quarterly profit .\nShares rise 4 percent in after-hours trading .",
    ),
    (
        '"We are devastated," said the family. The funeral will be held on Tuesday.',
        "Family says they are devastated .\nFuneral to be held Tuesday .",
    ),
    (
        "A magnitude 6.2 earthquake struck central Italy. At least 38 people were killed. "
        "Rescuers are searching the rubble.",
        "Magnitude 6.2 quake hits central Italy .\nAt least 38 killed, officials say .\n"
        "Rescuers search rubble for survivors .",
    ),
    (
        "The storm knocked out power to 200,000 homes. Officials expect repairs to take days.",
        "Storm leaves 200,000 homes without power .\nRepairs could take several days, officials say .",
    ),
    (
        "Manchester United beat Chelsea 3-0 at Old Trafford. Wayne Rooney scored twice.",
        "Wayne Rooney scores twice as Manchester United beat Chelsea 3-0 .",
    ),
    (
        "The company, based in Washington, D.C., cut 1,200 jobs. Its CEO resigned on Monday.",
        "Firm cuts 1,200 jobs .\nChief executive resigns Monday .",
    ),
    (
        "Is the economy slowing? Analysts say growth fell to 1.5% in the third quarter.",
        "Growth slows to 1.5% in third quarter .\nAnalysts warn of further slowdown .",
    ),
    (
        "The museum reopened after a two-year renovation. Visitors can see 300 new works.",
        "Museum reopens after two-year renovation .\n300 new works on display .",
    ),
    (
        "Sen. Warren introduced the bill on Wednesday. It has 20 co-sponsors.",
        "Senator Warren introduces bill .\nMeasure has 20 co-sponsors in the Senate .",
    ),
    (
        "NASA launched the probe at 4:30 a.m. local time. It will reach Mars in seven months.",
        "NASA probe launches early Tuesday .\nIt is expected to reach Mars in seven months .",
    ),
    (
        "Prices rose by 0.3 percent in May. Economists had expected a 0.2 percent rise.",
        "Consumer prices up 0.3% in May .\nEconomists had forecast a rise of 0.2% .",
    ),
    (
        "The actor, 45, was found dead at his home in Los Angeles. Police do not suspect foul play.",
        "Actor, 45, found dead at Los Angeles home .\nPolice say no foul play suspected .",
    ),
    ("", "The minister announced new rules on Monday .\nThey take effect in June ."),
    (
        "Heavy snow closed schools across the region. Roads were icy and dangerous.",
        "Schools closed across the region after heavy snow .\nRoads icy and dangerous, police warn .",
    ),
    (
        "The president signed the law.\nIt takes effect immediately.",
        "President signs the law .\nIt takes effect immediately .",
    ),
    (
        "J. K. Rowling announced a new book. It will be published in Sept. next year. Fans are thrilled!",
        "J.K. Rowling announces new book .\nIt will be published next September .",
    ),
]


@pytest.fixture(scope="module")
def rouge():
    return load_rouge(keep_in_memory=True)


def _newlined(text: str) -> str:
    return "\n".join(split_sentences(text))


def _direct_means(pairs, use_stemmer=True):
    scorer = rouge_scorer.RougeScorer(list(TYPES), use_stemmer=use_stemmer)
    scores = [scorer.score(_newlined(ref), _newlined(pred)) for pred, ref in pairs]
    out = {}
    for t in TYPES:
        out[t] = sum(s[t].fmeasure for s in scores) / len(scores)
        out[f"{t}_precision"] = sum(s[t].precision for s in scores) / len(scores)
        out[f"{t}_recall"] = sum(s[t].recall for s in scores) / len(scores)
    return out, scores


def _compute(rouge, pairs, **kwargs):
    return rouge.compute(predictions=[p for p, _ in pairs], references=[r for _, r in pairs], **kwargs)


# ---------------------------------------------------------------------------------------------------------
# split_sentences
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. Smith paid $3.5 million. He left.", ["Mr. Smith paid $3.5 million.", "He left."]),
        ("The U.S. team won. Fans cheered!", ["The U.S. team won.", "Fans cheered!"]),
        (
            "Mrs. Brown met Dr. Lee in St. Louis on Jan. 5. They talked.",
            ["Mrs. Brown met Dr. Lee in St. Louis on Jan. 5.", "They talked."],
        ),
        ("Is it over? Yes! It is.", ["Is it over?", "Yes!", "It is."]),
        ('He said "Go!" Then he left.', ['He said "Go!"', "Then he left."]),
        ('It ended. "We won," she said.', ["It ended.", '"We won," she said.']),
        (
            "Growth was 2.5 percent in 2015. 3 banks failed.",
            ["Growth was 2.5 percent in 2015.", "3 banks failed."],
        ),
        ("The answer was no. Then he went to No. 10.", ["The answer was no.", "Then he went to No. 10."]),
        ("J. K. Rowling wrote it. e.g. this one.", ["J. K. Rowling wrote it. e.g. this one."]),
        ("Prices fell. it is lowercase after.", ["Prices fell. it is lowercase after."]),
        ("  One sentence without a final stop  ", ["One sentence without a final stop"]),
        (
            "Man arrested after crash .\nTwo people injured .\n\n  Road closed for hours .  \n",
            ["Man arrested after crash .", "Two people injured .", "Road closed for hours ."],
        ),
        # Newline-separated text is split on newlines only, never inside a line.
        ("Mr. Smith left. He was sad.\nPolice came.", ["Mr. Smith left. He was sad.", "Police came."]),
        ("Line one\r\nLine two", ["Line one", "Line two"]),
        ("", []),
        ("   \n  \n", []),
        (None, []),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_loaded_metric_uses_the_package_splitter(rouge):
    """evaluate copied sentences.py next to the cached script; it must be the same code as the package's."""
    script = sys.modules[type(rouge).__module__]
    assert script.split_sentences.__code__.co_code == split_sentences.__code__.co_code
    assert script.split_sentences("Mr. Smith paid $3.5 million. He left.") == [
        "Mr. Smith paid $3.5 million.", "He left."]


# ---------------------------------------------------------------------------------------------------------
# Equality with rouge_score
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_stemmer", [True, False])
def test_means_equal_direct_rouge_score(rouge, use_stemmer):
    result = _compute(rouge, PAIRS, use_stemmer=use_stemmer, n_bootstrap=200)
    assert sorted(result) == sorted(KEYS)
    assert all(isinstance(v, float) for v in result.values())
    expected, _ = _direct_means(PAIRS, use_stemmer=use_stemmer)
    assert len(expected) == 12
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key
    for key, value in result.items():
        assert 0.0 <= value <= 1.0, key


def test_stemmer_default_on(rouge):
    default = _compute(rouge, PAIRS, n_bootstrap=10)
    stem = _compute(rouge, PAIRS, n_bootstrap=10, use_stemmer=True)
    no_stem = _compute(rouge, PAIRS, n_bootstrap=10, use_stemmer=False)
    assert default == stem
    assert default["rouge1"] > no_stem["rouge1"]


def test_per_example_scores_without_aggregator(rouge):
    result = _compute(rouge, PAIRS, use_aggregator=False)
    assert sorted(result) == sorted(TYPES)
    _, direct = _direct_means(PAIRS)
    for t in TYPES:
        assert isinstance(result[t], list)
        assert len(result[t]) == len(PAIRS)
        assert result[t] == pytest.approx([s[t].fmeasure for s in direct], abs=1e-12)
    empty_index = next(i for i, (pred, _) in enumerate(PAIRS) if pred == "")
    assert all(result[t][empty_index] == 0.0 for t in TYPES)


# ---------------------------------------------------------------------------------------------------------
# rougeLsum semantics
# ---------------------------------------------------------------------------------------------------------


def test_rouge_lsum_is_summary_level_for_multi_sentence_text(rouge):
    # Sentences in swapped order: whole-text LCS (rougeL) loses one sentence, summary-level LCS does not.
    pred = "The victim was taken to hospital. Police arrested two men on Friday."
    ref = "Police arrested two men on Friday.\nThe victim was taken to hospital."
    result = rouge.compute(predictions=[pred], references=[ref], n_bootstrap=10)
    assert result["rouge1"] == pytest.approx(1.0)
    assert result["rougeLsum"] == pytest.approx(1.0)
    assert result["rougeL"] < 0.75
    # On the realistic corpus the two differ too.
    corpus = _compute(rouge, PAIRS, n_bootstrap=10)
    assert abs(corpus["rougeLsum"] - corpus["rougeL"]) > 1e-3


def test_newline_placement_changes_rouge_lsum_only(rouge):
    ref = "the police arrested two men on friday"
    preds = ["on friday the police arrested two men", "on friday\nthe police arrested two men"]
    result = rouge.compute(predictions=preds, references=[ref, ref], use_aggregator=False)
    assert result["rouge1"][0] == result["rouge1"][1] == pytest.approx(1.0)
    assert result["rouge2"][0] == result["rouge2"][1]
    assert result["rougeL"][0] == result["rougeL"][1] == pytest.approx(5 / 7)
    assert result["rougeLsum"][0] == pytest.approx(5 / 7)
    assert result["rougeLsum"][1] == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------------------
# Bootstrap intervals
# ---------------------------------------------------------------------------------------------------------


def test_confidence_intervals_contain_mean_and_are_reproducible(rouge):
    first = _compute(rouge, PAIRS)
    for t in TYPES:
        assert first[f"{t}_ci_low"] <= first[t] + 1e-12
        assert first[t] <= first[f"{t}_ci_high"] + 1e-12
        assert first[f"{t}_ci_low"] < first[f"{t}_ci_high"]
    assert _compute(rouge, PAIRS) == first
    assert _compute(rouge, PAIRS, seed=0) == first
    other_seed = _compute(rouge, PAIRS, seed=1)
    assert any(other_seed[f"{t}_ci_low"] != first[f"{t}_ci_low"] for t in TYPES)
    for t in TYPES:  # the means do not depend on the bootstrap
        assert other_seed[t] == first[t]


def _percentile_bootstrap(values, n_resamples, level, seed):
    """An independent percentile bootstrap of the mean of `values`: (low, high) at `level`."""
    values = np.asarray(values)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_resamples, len(values)))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def test_confidence_interval_is_a_95_percent_percentile_bootstrap(rouge):
    """The interval's level, checked against a bootstrap written here: the metric's bounds are the 2.5th and
    97.5th percentiles of the resampled mean F1 (same number of resamples, other random draws: a tolerance of a
    tenth of the width, about five Monte Carlo standard errors of the difference), and far wider than a 50%
    interval of the same data."""
    n_resamples = 2000
    per_example = _compute(rouge, PAIRS, use_aggregator=False)
    result = _compute(rouge, PAIRS, n_bootstrap=n_resamples)
    for t in TYPES:
        low, high = _percentile_bootstrap(per_example[t], n_resamples, 0.95, seed=123)
        width = high - low
        assert result[f"{t}_ci_low"] == pytest.approx(low, abs=0.1 * width), t
        assert result[f"{t}_ci_high"] == pytest.approx(high, abs=0.1 * width), t
        low_50, high_50 = _percentile_bootstrap(per_example[t], n_resamples, 0.5, seed=123)
        # a normal mean: a 95% interval is 1.96 / 0.674 = 2.9 times as wide as a 50% one
        assert result[f"{t}_ci_high"] - result[f"{t}_ci_low"] > 2 * (high_50 - low_50), t


def test_bootstrap_does_not_disturb_global_numpy_rng(rouge):
    np.random.seed(1234)
    expected = np.random.rand(3)
    np.random.seed(1234)
    _compute(rouge, PAIRS, n_bootstrap=50, seed=7)
    np.testing.assert_array_equal(np.random.rand(3), expected)


def test_confidence_intervals_narrow_with_more_examples(rouge):
    rng = np.random.RandomState(0)
    small = [PAIRS[i] for i in rng.choice(len(PAIRS), size=10)]
    large = [PAIRS[i] for i in rng.choice(len(PAIRS), size=200)]
    small_result = _compute(rouge, small)
    large_result = _compute(rouge, large)
    for t in TYPES:
        small_width = small_result[f"{t}_ci_high"] - small_result[f"{t}_ci_low"]
        large_width = large_result[f"{t}_ci_high"] - large_result[f"{t}_ci_low"]
        assert large_width < 0.6 * small_width, t


# ---------------------------------------------------------------------------------------------------------
# Edge cases
# ---------------------------------------------------------------------------------------------------------


def test_perfect_predictions_score_one(rouge):
    refs = [ref for _, ref in PAIRS if ref]
    result = rouge.compute(predictions=refs, references=refs, n_bootstrap=50)
    for key in KEYS:
        assert result[key] == pytest.approx(1.0, abs=1e-12), key


def test_disjoint_predictions_score_zero(rouge):
    result = rouge.compute(
        predictions=["zebra quantum violin.", "orange kettle"],
        references=["The minister resigned on Monday .\nHe denied wrongdoing .", "Rain expected tomorrow ."],
        n_bootstrap=50,
    )
    for key in KEYS:
        assert result[key] == 0.0, key


def test_empty_predictions_are_allowed(rouge):
    result = rouge.compute(predictions=["", ""], references=["Some reference text .", "Another one ."])
    assert all(result[key] == 0.0 for key in KEYS)


def test_mismatched_lengths_raise_value_error(rouge):
    with pytest.raises(ValueError, match=r"(?i)mismatch|one reference per prediction"):
        rouge.compute(predictions=["a b c", "d e f"], references=["a b c"])


def test_invalid_n_bootstrap_raises(rouge):
    with pytest.raises(ValueError, match="n_bootstrap"):
        rouge.compute(predictions=["a b c"], references=["a b c"], n_bootstrap=0)


# ---------------------------------------------------------------------------------------------------------
# Loading offline
# ---------------------------------------------------------------------------------------------------------


def test_metric_path_layout():
    path = Path(ROUGE_METRIC_PATH)
    assert path.is_absolute()
    assert (path / "rouge.py").is_file()  # evaluate expects <dir>/<dirname>.py


def test_loads_offline_from_other_cwd_without_network(rouge, monkeypatch, tmp_path):
    import evaluate

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
    monkeypatch.chdir(tmp_path)

    def no_network(*args, **kwargs):
        raise AssertionError("loading the local ROUGE metric tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)

    for metric in (load_rouge(keep_in_memory=True), evaluate.load(ROUGE_METRIC_PATH, keep_in_memory=True)):
        assert metric.name == "rouge"
        result = metric.compute(predictions=["hello there general kenobi"], references=["hello there"])
        assert result["rouge1"] == pytest.approx(2 / 3)
        assert result["rouge2"] == pytest.approx(0.5)


def test_loads_in_fresh_offline_process(tmp_path):
    """A new interpreter with the offline flags set before import, run from an unrelated directory."""
    code = (
        "import json, evaluate\n"
        "from metrics import load_rouge, ROUGE_METRIC_PATH\n"
        "m = load_rouge(keep_in_memory=True)\n"
        "r = m.compute(predictions=['a cat sat. it purred.'], references=['a cat sat.\\nit purred.'])\n"
        "print(json.dumps(r))\n"
    )
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        HF_EVALUATE_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_ENDPOINT="http://127.0.0.1:9",  # anything that tries the Hub fails fast
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")])),
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(result) == sorted(KEYS)
    assert result["rouge1"] == pytest.approx(1.0)
    assert result["rougeLsum"] == pytest.approx(1.0)
