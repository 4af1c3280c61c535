"""The README's results come from a report by a script: the table equals the report's cells, --check notices a
hand edit."""

import json
import os

from reporting.report import build_report
from tools import readme_results

from .test_report import parse_table, write_run


def test_the_readme_block_is_the_reports_table_and_reading(tmp_path, capsys):
    runs = [write_run(tmp_path / "runs" / key, key) for key in ("lead-3", "zero-shot", "lora", "full")]
    with open(os.path.join(runs[2], "provenance.json"), "w") as handle:
        json.dump({"command": ["run_summarization.py"], "git": {"commit": "0123456789abcdef", "dirty": False},
                   "device": {"cpu": "EPYC", "cpu_count": 2}}, handle)
    report = build_report(runs, str(tmp_path / "report"))
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nBefore.\n\n{readme_results.START}\nold numbers\n{readme_results.END}\n\nAfter.\n")
    args = [report, "--command", "time make demo", "--wall_time", "38 min 12 s", "--date", "2026-12-04",
            "--readme", str(readme)]
    assert readme_results.main([*args, "--check"]) == 1  # the old block differs
    assert readme_results.main(args) == 0
    text = readme.read_text()
    assert text.startswith("# Title\n\nBefore.\n\n") and text.endswith("\n\nAfter.\n") and "old numbers" not in text
    assert "`time make demo` from a fresh clone, 2026-12-04, commit 0123456, on EPYC, 2 cores: **38 min 12 s**" in text
    report_rows = parse_table(open(report, encoding="utf-8").read())[1]
    readme_rows = parse_table(text.split(readme_results.START)[1])[1]
    assert list(readme_rows) == list(report_rows)
    for label, row in readme_rows.items():
        assert list(row) == list(readme_results.COLUMNS)
        assert all(row[column] == report_rows[label][column] for column in row)
    reading = open(report, encoding="utf-8").read().split("## Reading\n\n")[1].split("\n")[0]
    assert f"Reading (computed by the report): {reading}" in text
    assert readme_results.main([*args, "--check"]) == 0
    assert "Faithfulness and abstractiveness" not in text  # a report built without the articles has none
    readme.write_text(text.replace(readme_rows["lora"]["ROUGE-1"], "99.9 (99.0–99.9)"))  # a hand edit
    assert readme_results.main([*args, "--check"]) == 1
    readme.write_text("no markers\n")
    assert readme_results.main(args) == 2
    assert "README.md has no results markers" in capsys.readouterr().err


def test_the_readme_block_carries_the_faithfulness_table_and_reading(tmp_path):
    import spacy

    from .test_report import fake_results, write_predictions

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "ORG", "pattern": "Arsenal"}, {"label": "GPE", "pattern": "Leeds"}])
    articles = {f"t{i}": f"Leeds won game {i} at home." for i in range(6)}
    runs = []
    for key, prediction in (("lead-3", "Leeds won game {i} at home."), ("lora", "Arsenal won game {i}.")):
        folder = write_run(tmp_path / "runs" / key, key, fake_results(key), with_state=False)
        write_predictions(folder, [(f"t{i}", f"Leeds won game {i}.", prediction.format(i=i)) for i in range(6)])
        runs.append(folder)
    report_text = open(build_report(runs, str(tmp_path / "report"), articles=articles, ner=nlp)).read()
    readme = tmp_path / "README.md"
    readme.write_text(f"{readme_results.START}\n{readme_results.END}\n")
    assert readme_results.main([str(tmp_path / "report" / "REPORT.md"), "--command", "make demo", "--wall_time", "1 s",
                                "--readme", str(readme)]) == 0
    block = readme.read_text().split("Faithfulness and abstractiveness (")[1]
    rows = parse_table(block[block.index("| row |"):].replace("| row |", "| method |", 1))[1]
    section = report_text.split("## Faithfulness and abstractiveness")[1]
    report_rows = parse_table(section[section.index("| row |"):].replace("| row |", "| method |", 1))[1]
    assert set(rows) == {"lead-3", "lora", "reference summaries"}
    for label, row in rows.items():
        assert list(row)[1:] == list(readme_results.FAITHFULNESS_COLUMNS[1:])
        assert all(row[column] == report_rows[label][column] for column in row)
    assert rows["lora"]["entity precision %"].startswith("0.0") and rows["lead-3"]["entity precision %"].startswith("100.0")
    assert "**lora**: 0.0 % of its names are in the article: about 100 in 100 are not." in block


def test_run_folders_named_relative_to_where_the_comparison_ran(tmp_path, monkeypatch):
    """The comparison lists `demo_output/runs/<row>` relative to its working folder, two levels above the report."""
    monkeypatch.chdir(tmp_path)
    folder = write_run(tmp_path / "demo_output" / "runs" / "lora", "lora")
    with open(os.path.join(folder, "provenance.json"), "w") as handle:
        json.dump({"git": {"commit": "abcdef0123", "dirty": True}, "device": {"gpu": "NVIDIA H100"}}, handle)
    report = build_report(["demo_output/runs/lora"], "demo_output/report")
    monkeypatch.chdir(tmp_path.parent)  # the tool may run from anywhere
    block = readme_results.results_block(str(tmp_path / report), "make demo", "1 s", date="2026-12-05")
    assert "commit abcdef0 + uncommitted changes, on NVIDIA H100:" in block
