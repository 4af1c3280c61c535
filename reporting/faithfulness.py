"""The report's faithfulness and abstractiveness section: per row, what its summaries say that their articles do
not (entities, numbers) and how much they copy, beside the reference summaries' own values."""

from __future__ import annotations

from core import BadInputError, run_folder
from metrics.faithfulness import (
    REFERENCE_LABEL,
    SCORES,
    TITLES,
    ArticleTexts,
    format_score,
    per_score,
    score_rows,
    summarise,
)

from .statistics import significance

TESTED = (("entity_precision", "Entity precision against the article"),
          ("entity_recall", "Entity recall of the reference's entities"))


def attach_faithfulness(run: dict, articles: ArticleTexts) -> None:
    """Adds each score's per-article values to run["per_article"], its mean and interval as `predict_<score>`
    (`_ci_low`, `_ci_high`), and run["unsupported_entities"] = {article id: [entity as written]}."""
    try:
        rows = run_folder.read_predictions(run["run_dir"])
    except BadInputError:
        return
    if not rows:
        return
    scored = score_rows(rows, articles)
    run.setdefault("per_article", {}).update(per_score(scored))
    set_means(run)
    run["unsupported_entities"] = {i: values["unsupported_entities"] for i, values in scored.items()}


def set_means(row: dict) -> None:
    """`predict_<score>` and its interval from the row's per-article values."""
    for key in SCORES:
        row[f"predict_{key}"], row[f"predict_{key}_ci_low"], row[f"predict_{key}_ci_high"] = summarise(
            row["per_article"][key])


def reference_row(runs: list[dict], articles: ArticleTexts) -> dict | None:
    """The reference summaries scored as if they were a row (against the articles of the first finished row's
    predictions), so a reader sees how abstractive and how entity-faithful the task's own targets are."""
    for run in runs:
        if run["failed"]:
            continue
        try:
            rows = run_folder.read_predictions(run["run_dir"])
        except BadInputError:
            continue
        if rows:
            row = {"label": REFERENCE_LABEL, "per_article": per_score(score_rows(rows, articles, "reference"))}
            set_means(row)
            return row
    return None


def cell(row: dict, key: str) -> str:
    return format_score(key, row.get(f"predict_{key}"), row.get(f"predict_{key}_ci_low"),
                        row.get(f"predict_{key}_ci_high"))


def _mean(row: dict, key: str) -> float | None:
    return row.get(f"predict_{key}")


def reading(rows: list[dict], reference: dict | None) -> str:
    """Sentences computed from the table: which trained rows invent the fewest and the most names and numbers, and
    how their copying compares with the references'."""
    sentences = []
    models = [r for r in rows if not is_extractive(r)]
    precise = [r for r in models if _mean(r, "entity_precision") is not None]
    if precise:
        best = max(precise, key=lambda r: _mean(r, "entity_precision"))
        worst = min(precise, key=lambda r: _mean(r, "entity_precision"))
        if best is not worst:
            sentences.append(f"Of the rows that write their own words, **{best['label']}** invents the fewest names "
                             f"({100 * _mean(best, 'entity_precision'):.1f} % of its named entities are in the "
                             f"article) and **{worst['label']}** the most ({named(worst)}).")
        else:
            sentences.append(f"**{worst['label']}**: {named(worst)}.")
    numbered = [r for r in models if _mean(r, "unsupported_numbers") is not None]
    if numbered:
        most = max(numbered, key=lambda r: _mean(r, "unsupported_numbers"))
        least = min(numbered, key=lambda r: _mean(r, "unsupported_numbers"))
        sentences.append(f"Numbers absent from the article: {least['label']} {_mean(least, 'unsupported_numbers'):.2f} "
                         f"per summary, up to {most['label']} {_mean(most, 'unsupported_numbers'):.2f}.")
    copying = [r for r in rows if is_extractive(r)]
    if copying:
        sentences.append(", ".join(r["label"] for r in copying) + " copy the article (coverage 100 %), so their names "
                         "and numbers are its own.")
    if reference is not None and _mean(reference, "novel_2grams") is not None:
        closer = sorted(models, key=lambda r: abs(_mean(r, "novel_2grams") - _mean(reference, "novel_2grams")))
        text = (f"The reference summaries have {100 * _mean(reference, 'novel_2grams'):.0f} % novel bigrams (density "
                f"{_mean(reference, 'density'):.2f})")
        if _mean(reference, "entity_precision") is not None:
            text += (f" and only {100 * _mean(reference, 'entity_precision'):.0f} % of their names are in the "
                     "article: a target that itself names what the article does not")
        sentences.append(text + (f"; closest in abstractiveness: {closer[0]['label']} "
                                 f"({100 * _mean(closer[0], 'novel_2grams'):.0f} %)." if closer else "."))
    return " ".join(sentences)


def named(row: dict) -> str:
    share = _mean(row, "entity_precision")
    return f"{100 * share:.1f} % of its names are in the article: about {100 * (1 - share):.0f} in 100 are not"


def is_extractive(row: dict) -> bool:
    """A row whose every summary word is copied, in the article's order (lead-k): coverage 100 %, no novel unigram."""
    return row.get("predict_coverage") == 1.0 and row.get("predict_novel_1grams") == 0.0


WITHOUT_ARTICLES = ("the report was built without the articles (`python -m reporting.report ... --articles FILE`, or "
                    "`python -m metrics.faithfulness PREDICTIONS --articles FILE`)")


def faithfulness_text(runs: list[dict], reference: dict | None, not_computed: str | None = None,
                      n_resamples: int = 10_000) -> str:
    """The section: the table (rows, then the references), a computed reading and the paired tests; or why it is
    missing (`not_computed`)."""
    header = "## Faithfulness and abstractiveness\n\n"
    if not_computed:
        return header + f"Not computed: {not_computed}.\n"
    rows = [r for r in runs if not r["failed"] and _mean(r, "coverage") is not None]
    if not rows:
        return header + "No row has test summaries to score.\n"
    lines = ["| row | " + " | ".join(TITLES[key] for key in SCORES) + " |", "|:---|" + "---:|" * len(SCORES)]
    for row in rows + ([reference] if reference else []):
        lines.append(f"| {row['label']} | " + " | ".join(cell(row, key) for key in SCORES) + " |")
    tests, _ = significance(rows, tested=TESTED, n_resamples=n_resamples,
                            heading="### Which faithfulness differences are real (paired tests)")
    return (header + "What the summaries say that their articles do not, and how much they copy "
            "(`metrics/faithfulness.py`; spaCy NER). Entity precision: share of the summary's named entities found in "
            "the article (Nan et al. 2021); entity recall: share of the reference's entities found in the summary; "
            "novel n-grams: share of summary n-grams not in the article; coverage and density: extractive fragments "
            "(Grusky et al. 2018). Means over the summaries where a value is defined, 95% bootstrap intervals.\n\n" +
            "\n".join(lines) + "\n\n" + reading(rows, reference) + "\n\n" + tests + "\n")
