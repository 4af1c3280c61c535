"""The report's statistics recomputed independently from the run folders' prediction files: the paired
matrix (differences and which are significant), seeds merged into one row, runs on other data flagged, the
learning-rate sweep shown with its choice."""

from __future__ import annotations

import itertools
import os
import re
import statistics

import numpy as np
import pytest

from core import run_folder
from metrics import load_rouge
from reporting.report import build_report

REFERENCES = [f"The mayor of town {i} opened a new bridge over the river on day {i}." for i in range(12)]
GOOD = [f"The mayor of town {i} opened a bridge over the river." for i in range(12)]
FAIR = [f"A bridge opened in town {i}." if i % 3 else f"The mayor of town {i} opened a new bridge." for i in range(12)]
POOR = [f"Weather in region {i} was mild." for i in range(12)]


def write_run(folder, method: str, predictions: list[str], fingerprint: str = "a" * 64, **results) -> str:
    os.makedirs(folder, exist_ok=True)
    ids = [f"id-{i}" for i in range(len(predictions))]
    run_folder.write_predictions(str(folder), ids, REFERENCES[:len(predictions)], predictions)
    run_folder.write_json(str(folder), run_folder.RESULTS, {
        "method": method, "trainable_params": 0 if method.startswith(("lead", "zero")) else 10,
        "test_data_fingerprint": fingerprint, "predict_rougeLsum": 0.1, **results})
    return str(folder)


def per_article(predictions: list[str], key: str) -> np.ndarray:
    scores = load_rouge().compute(predictions=predictions, references=REFERENCES[:len(predictions)],
                                  use_aggregator=False)
    return np.array(scores[key])


def exact_randomisation_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value over all 2^n sign flips of the per-article differences (no sampling)."""
    differences = a - b
    observed = abs(differences.mean())
    flips = np.array(list(itertools.product([1.0, -1.0], repeat=differences.size)))
    return float(np.mean(np.abs(flips @ differences) / differences.size >= observed - 1e-12))


def matrix_rows(text: str, title: str) -> dict[str, dict[str, str]]:
    section = text.split(f"### {title} (")[1].split("\n### ")[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")][1:]
    rows = {}
    for line in lines[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header, cells[1:], strict=True))
    return rows


def test_paired_matrix_matches_an_independent_computation(tmp_path):
    runs = {"lead-3": GOOD, "lora": FAIR, "prompt": POOR}
    dirs = [write_run(tmp_path / name, name, predictions) for name, predictions in runs.items()]
    text = open(build_report(dirs, str(tmp_path / "report"))).read()
    for key, title in (("rougeLsum", "ROUGE-Lsum"), ("rougeL", "ROUGE-L")):
        scores = {name: per_article(predictions, key) for name, predictions in runs.items()}
        pairs = list(itertools.combinations(scores, 2))
        exact = [exact_randomisation_p(scores[a], scores[b]) for a, b in pairs]
        order = np.argsort(exact)  # Holm's step-down, by hand
        holm, running = [0.0] * len(pairs), 0.0
        for rank, index in enumerate(order):
            running = max(running, min(1.0, (len(pairs) - rank) * exact[index]))
            holm[index] = running
        rows = matrix_rows(text, title)
        for (a, b), p in zip(pairs, holm, strict=True):
            cell = rows[a][b]
            value = float(re.match(r"\**([+-][0-9.]+)", cell).group(1))
            assert value == pytest.approx(100 * (scores[a] - scores[b]).mean(), abs=0.051), (a, b, cell)
            assert rows[b][a].lstrip("*").startswith("-" if value > 0 else "+")  # antisymmetric
            low, high = (float(x) for x in re.search(r"\(([+-][0-9.]+), ([+-][0-9.]+)\)", cell).groups())
            assert low <= value <= high
            if abs(p - 0.05) > 0.01:  # the sampled p-value agrees with the exact one away from the threshold
                assert cell.startswith("**") == (p < 0.05), (a, b, p, cell)
        best = max(scores, key=lambda name: scores[name].mean())
        assert f"1. **{best}**" in text.split(f"### {title} (")[1]


def test_seeds_are_one_row_with_their_mean_and_spread(tmp_path):
    seed_runs = {"lora-seed0": FAIR, "lora-seed1": GOOD}
    dirs = [write_run(tmp_path / name, "lora", predictions, predict_rougeLsum=value)
            for (name, predictions), value in zip(seed_runs.items(), (0.2, 0.3), strict=True)]
    dirs.append(write_run(tmp_path / "prompt", "prompt", POOR))
    text = open(build_report(dirs, str(tmp_path / "report"))).read()
    row = next(line for line in text.splitlines() if line.startswith("| lora |"))
    assert f"| 2 (sd {100 * statistics.stdev([0.2, 0.3]):.1f}) |" in row
    mean = (per_article(FAIR, "rougeLsum") + per_article(GOOD, "rougeLsum")) / 2
    assert f"| {100 * mean.mean():.1f} (" in row  # ROUGE-Lsum of the seed-averaged articles
    assert "lora-seed" not in text.split("## Run folders")[0]  # one row, not two
    assert "per-article mean over the seeds" in text


def test_runs_on_other_data_are_flagged_and_left_out_of_the_tests(tmp_path):
    dirs = [write_run(tmp_path / "lead-3", "lead-3", GOOD), write_run(tmp_path / "lora", "lora", FAIR),
            write_run(tmp_path / "prompt", "prompt", POOR, fingerprint="b" * 64)]
    text = open(build_report(dirs, str(tmp_path / "report"))).read()
    assert "## Warning: these runs were not all made on the same data" in text
    assert "prompt used other test articles" in text and "`bbbbbbbbbbbb` vs `aaaaaaaaaaaa`" in text
    assert "| prompt (*other data*) |" in text
    assert "prompt" not in matrix_rows(text, "ROUGE-Lsum")
    same = [write_run(tmp_path / "same" / name, name, p) for name, p in (("lead-3", GOOD), ("lora", FAIR))]
    assert "## Warning" not in open(build_report(same, str(tmp_path / "report2"))).read()


def test_sweep_section_shows_every_rate_and_bolds_the_chosen_one(tmp_path):
    dirs = [write_run(tmp_path / "lora", "lora", FAIR, learning_rate=0.001)]
    sweep = {"lora": {"select_by": "eval_loss", "chosen": 0.001,
                      "results": {"0.001": {"eval_loss": 2.5, "eval_rougeLsum": None},
                                  "0.01": {"eval_loss": 3.1, "eval_rougeLsum": None}}}}
    report = build_report(dirs, str(tmp_path / "report"), sweep=sweep)
    text = open(report).read()
    assert "| lora | **0.001** | 2.500 | n/a | eval_loss |" in text and "| lora | 0.01 | 3.100 | n/a |  |" in text
    assert os.path.getsize(os.path.join(tmp_path, "report", "learning_rates.png")) > 10_000
    assert "| 0.001 |" in next(line for line in text.splitlines() if line.startswith("| lora |"))
