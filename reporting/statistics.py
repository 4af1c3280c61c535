"""What the report says beyond one run's numbers: runs of several seeds as one row, whether the rows were made
on the same data, and which differences between rows are real (paired tests on per-article scores)."""

from __future__ import annotations

import re
import statistics

import numpy as np

from core import BadInputError, run_folder
from metrics.significance import (
    METHOD_CITATION,
    align_by_id,
    bootstrap_interval,
    indistinguishable_from_best,
    pairwise_matrix,
    per_article_scores,
)

SEED_SUFFIX = re.compile(r"-seed\d+$")  # the comparison names the runs of one row <row>-seed<k>
ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
TESTED = (("rougeLsum", "ROUGE-Lsum"), ("rougeL", "ROUGE-L"))


def attach_per_article_scores(run: dict) -> None:
    """run["per_article"] = {rouge type: {article id: F1}} from its predictions file (absent without one)."""
    try:
        rows = run_folder.read_predictions(run["run_dir"])
    except BadInputError:
        return
    if rows:
        scores = per_article_scores([r["prediction"] for r in rows], [r["reference"] for r in rows])
        run["per_article"] = {key: dict(zip((r["id"] for r in rows), map(float, scores[key]), strict=True))
                              for key in ROUGE_KEYS}


def group_seeds(runs: list[dict]) -> list[dict]:
    """Finished runs of one row trained with several seeds (folders `<row>-seed<k>`, same method) become one
    row: numbers are means over the seeds, `seeds` their count, `seed_sd_<key>` the spread of each ROUGE
    mean across seeds, and the interval is the bootstrap interval of the per-article seed-averaged scores."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        key = (run.get("method"), SEED_SUFFIX.sub("", run["name"])) if not run["failed"] else ("", run["run_dir"])
        groups.setdefault(key, []).append(run)
    rows = []
    for (_, name), members in groups.items():
        if len(members) == 1 or members[0]["failed"]:
            rows.extend(members)
            continue
        rows.append(merge_seeds(name, members))
    return rows


def merge_seeds(name: str, members: list[dict]) -> dict:
    row = dict(members[0], name=name, seeds=len(members), seed_runs=members, run_dir=members[0]["run_dir"])
    for key, value in members[0].items():
        values = [m.get(key) for m in members]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and all(
                isinstance(v, (int, float)) for v in values):
            row[key] = statistics.fmean(values)
    for key in ROUGE_KEYS:
        values = [m.get(f"predict_{key}") for m in members if m.get(f"predict_{key}") is not None]
        row[f"seed_sd_{key}"] = statistics.stdev(values) if len(values) > 1 else None
    if all("per_article" in m for m in members):
        row["per_article"] = {}
        for key in members[0]["per_article"]:
            # ROUGE is defined on every article; a faithfulness score may not be (no entity in a summary), and
            # then maybe on no article in every seed's summaries
            values = {str(i): m["per_article"][key] for i, m in enumerate(members)}
            if key not in ROUGE_KEYS and not set.intersection(*(set(v) for v in values.values())):
                row["per_article"][key] = {}
                row[f"predict_{key}"] = row[f"predict_{key}_ci_low"] = row[f"predict_{key}_ci_high"] = None
                continue
            ids, arrays = align_by_id(values, allow_partial=key not in ROUGE_KEYS)
            mean = np.mean(np.vstack(list(arrays.values())), axis=0)
            row["per_article"][key] = dict(zip(ids, map(float, mean), strict=True))
            low, high = bootstrap_interval(mean)
            row[f"predict_{key}"], row[f"predict_{key}_ci_low"], row[f"predict_{key}_ci_high"] = (
                float(mean.mean()), low, high)
    return row


# ---------------------------------------------------------------- same data?


def check_data(rows: list[dict]) -> str:
    """Rows scored on other test articles (or methods trained on other articles) than the majority are marked
    (`other_data`) and left out of the paired tests; the returned warning says which (empty when all agree)."""
    finished = [r for r in rows if not r["failed"]]
    warnings = []
    for split, scope in (("test", finished), ("train", [r for r in finished if not r["baseline"]])):
        key = f"{split}_data_fingerprint"
        known = [r[key] for r in scope if r.get(key)]
        if len(set(known)) < 2:
            continue
        majority = max(set(known), key=known.count)
        others = [r for r in scope if r.get(key) and r[key] != majority]
        for row in others:
            row["other_data"] = True
        warnings.append(f"- {split} data: {', '.join(r['label'] for r in others)} used other {split} articles than "
                        f"the rest (fingerprint `{others[0][key][:12]}` vs `{majority[:12]}`).")
    unknown = [r["label"] for r in finished if not r.get("test_data_fingerprint")]
    if warnings and unknown:
        warnings.append(f"- no data fingerprint recorded (older runs): {', '.join(unknown)}.")
    if not warnings:
        return ""
    return ("## Warning: these runs were not all made on the same data\n\n" + "\n".join(warnings) +
            "\n\nRows marked *other data* are not comparable with the others: they are left out of the paired "
            "tests below. Rerun them on the same data (same files, `--max_*_samples` and `--data_seed`).\n")


# ---------------------------------------------------------------- which differences are real


def significance(rows: list[dict], tested=TESTED, n_resamples: int = 10_000,
                 heading: str = "## Which differences are real (paired tests)") -> tuple[str, set[str]]:
    """(markdown section, labels not distinguishable from the best by the first tested score) over the per-article
    scores `tested` names (key, title); each test runs on the articles where every row has a value."""
    scored = [r for r in rows if not r["failed"] and "per_article" in r and not r.get("other_data")]
    if len(scored) < 2:
        return "", set()
    parts, tied_first = [], None
    for key, title in tested:
        values = {r["label"]: r["per_article"][key] for r in scored}
        if len(set.intersection(*(set(v) for v in values.values()))) < 2:  # e.g. no summary names an entity
            parts.append(f"### {title}\n\nNot tested: fewer than 2 articles where every row has a value.\n")
            continue
        ids, arrays = align_by_id(values, allow_partial=True)
        comparisons = pairwise_matrix(arrays, n_resamples=n_resamples)
        tied = indistinguishable_from_best(arrays, comparisons)
        tied_first = tied if tied_first is None else tied_first
        parts.append(matrix_markdown(title, arrays, comparisons, tied, len(ids)))
    seeds = any(r.get("seeds") for r in scored)
    note = (" A row trained with several seeds enters with its per-article mean over the seeds (the article stays "
            "the unit of resampling)." if seeds else "")
    return (heading + "\n\nEvery row is scored on the same test articles, so rows are compared article by article. " +
            METHOD_CITATION + " 10,000 resamples, seed 0." + note + "\n\n" + "\n".join(parts)), tied_first


def points(value: float) -> str:
    """A difference in ROUGE points with its sign, never "-0.0"."""
    rounded = round(100 * value, 1)
    return f"{rounded + 0.0:+.1f}" if rounded != 0 else "+0.0"


def matrix_markdown(title: str, arrays: dict[str, np.ndarray], comparisons, tied: set[str], articles: int) -> str:
    labels = sorted(arrays, key=lambda label: -float(arrays[label].mean()))
    found = {(c.label_a, c.label_b): c for c in comparisons}
    best = labels[0]
    ranked = []
    for rank, label in enumerate(labels, start=1):
        mean = 100 * float(arrays[label].mean())
        if label == best:
            ranked.append(f"{rank}. **{label}** {mean:.1f}: the best")
            continue
        comparison = found.get((label, best)) or found[(best, label)]
        verdict = "not distinguishable from the best" if label in tied else "below the best"
        ranked.append(f"{rank}. {label} {mean:.1f}: {verdict} (Holm p = {comparison.p_holm:.3g})")
    header = "| row − column |" + "|".join(f" {label} " for label in labels) + "|"
    lines = [header, "|:---|" + "---:|" * len(labels)]
    for a in labels:
        cells = []
        for b in labels:
            if a == b:
                cells.append("")
                continue
            comparison = found.get((a, b)) or found[(b, a)]
            sign = 1 if (a, b) in found else -1
            difference = comparison.difference
            low, high = sorted((sign * difference.ci_low, sign * difference.ci_high))
            mark = "**" if comparison.significant else ""
            cells.append(f"{mark}{points(sign * difference.mean_difference)}{mark} ({points(low)}, {points(high)})")
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return (f"### {title} ({articles} articles)\n\n" + "\n".join(ranked) + "\n\nMean per-article difference in "
            "points (row minus column) with its 95% paired bootstrap interval; **bold**: significant at 5% after "
            "Holm's correction.\n\n" + "\n".join(lines) + "\n")
