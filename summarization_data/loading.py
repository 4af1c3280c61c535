"""Kaggle-layout CSVs (`id, article, highlights`) to a clean, sampled `DatasetDict`.

Every problem a user can fix (missing file, misnamed column, unreadable CSV, a split left empty)
is raised as `BadInputError` naming the file and the fix, before any training starts.
"""

from __future__ import annotations

import csv
import logging
import os

import datasets
from datasets import Dataset, DatasetDict, Features, Value

from core import BadInputError

logger = logging.getLogger(__name__)

SPLIT_FILE_NAMES = {"train": "train.csv", "validation": "validation.csv", "test": "test.csv"}
REPLACEMENT_CHAR = "\ufffd"


def resolve_data_files(
    data_dir: str | None, files: dict[str, str | None], wanted: list[str]
) -> dict[str, str]:
    """Explicit `--<split>_file` wins over `<data_dir>/<split>.csv`; every wanted split must resolve."""
    resolved = {}
    missing = [split for split in wanted if not files.get(split)]
    if data_dir and not os.path.isdir(data_dir) and missing:
        if len(missing) < len(wanted):  # some --<split>_file flags given: the others are what the user forgot
            raise BadInputError(
                f"no {' or '.join(missing)} data: --data_dir {data_dir} does not exist; pass "
                f"{' and '.join(f'--{split}_file' for split in missing)} (or a --data_dir that holds "
                f"{', '.join(SPLIT_FILE_NAMES[split] for split in missing)})"
            )
        raise BadInputError(
            f"--data_dir {data_dir} does not exist: download the Kaggle dataset "
            f"'newspaper-text-summarization-cnn-dailymail' ({', '.join(SPLIT_FILE_NAMES.values())}) into it, "
            "or run `make demo`, which needs no download"
        )
    for split in wanted:
        path = files.get(split) or (os.path.join(data_dir, SPLIT_FILE_NAMES[split]) if data_dir else None)
        if path is None:
            raise BadInputError(
                f"no {split} data: pass --data_dir (a folder with {SPLIT_FILE_NAMES[split]}) or --{split}_file"
            )
        if not os.path.isfile(path):
            where = f"--data_dir {data_dir}" if not files.get(split) else f"--{split}_file"
            raise BadInputError(
                f"{split} file {path} does not exist (from {where}); "
                f"expected the Kaggle layout {'/'.join(SPLIT_FILE_NAMES.values())} or an explicit --{split}_file"
            )
        resolved[split] = path
    return resolved


def read_header(path: str) -> list[str]:
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        first_chunk = handle.read(64 * 1024)
    if "\x00" in first_chunk:
        raise BadInputError(f"{path} is not a text CSV (it contains NUL bytes); point to the CSV export")
    header = next(csv.reader(first_chunk.splitlines()), None)
    if not header:
        raise BadInputError(f"{path} is empty: expected a header row with the columns id, article, highlights")
    return [name.strip().lstrip("\ufeff") for name in header]


def has_data_rows(path: str) -> bool:
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        return any(any(field.strip() for field in row) for row in reader)


def read_split(path: str, columns: list[str], cache_dir: str | None) -> Dataset:
    """Read the wanted columns as strings: empty fields stay "" (not NaN) and invalid UTF-8 becomes U+FFFD."""
    features = Features({name: Value("string") for name in columns})
    if not has_data_rows(path):  # pandas/datasets refuse a header-only file with an obscure error
        return Dataset.from_dict({name: [] for name in columns}, features=features)
    try:
        return datasets.load_dataset(
            "csv",
            data_files={"data": path},
            split="data",
            usecols=columns,
            features=features,
            na_filter=False,
            encoding_errors="replace",
            cache_dir=cache_dir,
        )
    except Exception as error:  # pandas/pyarrow raise many types; all mean "not a CSV we can read"
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise BadInputError(f"{path} is not a readable CSV ({reason}); check quoting and the file format") from error


def clean_split(dataset: Dataset, split: str, path: str, text_column: str, summary_column: str) -> Dataset:
    """Strip text, drop rows with an empty article or summary, and say how many were dropped."""

    def strip(row):
        article, summary = (row[text_column] or "").strip(), (row[summary_column] or "").strip()
        return {text_column: article, summary_column: summary,
                "_replaced": REPLACEMENT_CHAR in article or REPLACEMENT_CHAR in summary}

    dataset = dataset.map(strip, desc=f"Stripping {split}")
    # Counted from a boolean column: reading the text columns back into Python would copy the whole corpus.
    replaced = 0
    if "_replaced" in dataset.column_names:  # absent when the split has no rows at all
        replaced = sum(dataset["_replaced"])
        dataset = dataset.remove_columns("_replaced")
    if replaced:
        logger.warning("%s: %d rows had invalid UTF-8, decoded with U+FFFD replacement characters", path, replaced)
    before = len(dataset)
    dataset = dataset.filter(lambda row: bool(row[text_column]) and bool(row[summary_column]), desc=f"Dropping empty {split} rows")
    dropped = before - len(dataset)
    if dropped:
        logger.warning("%s: dropped %d of %d rows with an empty %s or %s", path, dropped, before, text_column, summary_column)
    if len(dataset) == 0:
        raise BadInputError(
            f"{split} split ({path}) has no usable rows ({before} rows read, {dropped} empty); "
            f"check that '{text_column}' and '{summary_column}' hold the article and summary"
        )
    return dataset


def sample_split(dataset: Dataset, max_samples: int | None, seed: int) -> Dataset:
    """A seeded random subset: the first N rows of a news CSV are not a random sample of it."""
    if max_samples is None or max_samples >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(max_samples)).flatten_indices()


def check_columns(where: str, found: list[str], text_column: str, summary_column: str) -> None:
    """Every misnamed column is named at once, with the columns that are there."""
    missing = [(name, flag) for name, flag in ((text_column, "--text_column"), (summary_column, "--summary_column"))
               if name not in found]
    if missing:
        names = " and ".join(f"'{name}'" for name, _ in missing)
        flags = " and ".join(flag for _, flag in missing)
        raise BadInputError(f"{where}: column{'s' if len(missing) > 1 else ''} {names} not found (columns found: "
                            f"{', '.join(found) or 'none'}); pass {flags} with the right name")


def prepare_split(dataset: Dataset, split: str, where: str, text_column: str, summary_column: str, id_column: str,
                  max_samples: int | None, seed: int) -> Dataset:
    """One split from any source, the same way: columns `id`, text_column, summary_column (ids made up when the
    source has none), cleaned, then sampled."""
    check_columns(where, list(dataset.column_names), text_column, summary_column)
    keep = [name for name in dataset.column_names if name in (id_column, text_column, summary_column)]
    dataset = dataset.select_columns(keep)
    if id_column not in keep:
        dataset = dataset.add_column("id", [f"{split}-{index}" for index in range(len(dataset))])
    elif id_column != "id":
        dataset = dataset.rename_column(id_column, "id")
    if dataset.features["id"].dtype != "string":  # integer ids (many Hub datasets) are compared as text
        dataset = dataset.cast_column("id", Value("string"))
    dataset = clean_split(dataset, split, where, text_column, summary_column)
    return sample_split(dataset, max_samples, seed)


def load_summarization_splits(
    data_files: dict[str, str],
    text_column: str = "article",
    summary_column: str = "highlights",
    id_column: str = "id",
    max_samples: dict[str, int | None] | None = None,
    seed: int = 42,
    cache_dir: str | None = None,
) -> DatasetDict:
    """Read, check, clean and sample each CSV split; columns come out as `id`, text_column, summary_column."""
    max_samples = max_samples or {}
    splits = {}
    for split, path in data_files.items():
        header = read_header(path)
        check_columns(path, header, text_column, summary_column)  # before reading: usecols needs them
        columns = [name for name in header if name in (id_column, text_column, summary_column)]
        dataset = read_split(path, columns, cache_dir)
        splits[split] = prepare_split(dataset, split, path, text_column, summary_column, id_column,
                                      max_samples.get(split), seed)
        logger.info("%s: %d examples from %s", split, len(splits[split]), path)
    return DatasetDict(splits)
