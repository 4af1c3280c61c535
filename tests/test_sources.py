"""The data-source seam: CSV folders, `datasets` datasets (a local folder, as `--dataset_name` reads a Hub name) and
BBC News all come out of `load_splits` the same way, and the card names what was read."""

import json
import os

import pytest
from datasets import Dataset, DatasetDict
from huggingface_hub import ModelCard

import run_summarization
from baselines import lead as lead_baseline
from core import BadInputError
from summarization_data import bbc_news, describe_source, load_splits
from summarization_data import sources as sources_module
from summarization_data.arguments import DataArguments
from summarization_data.loading import load_summarization_splits

from .conftest import fail
from .test_bbc_news import layout, story


def csv_splits(news_dir):
    return load_summarization_splits({split: os.path.join(news_dir, f"{split}.csv")
                                      for split in ("train", "validation", "test")})


def write_dataset_folder(news_dir, folder) -> str:
    """The generated news as another tool's dataset: JSON lines per split, other column names, integer ids."""
    os.makedirs(folder, exist_ok=True)
    for split, rows in csv_splits(news_dir).items():
        with open(os.path.join(folder, f"{split}.jsonl"), "w", encoding="utf-8") as handle:
            for index, row in enumerate(rows):
                handle.write(json.dumps({"doc_id": 1000 + index, "document": row["article"],
                                         "summary": row["highlights"], "topic": "news"}) + "\n")
    return str(folder)


DATASET_COLUMNS = ["--text_column", "document", "--summary_column", "summary", "--id_column", "doc_id"]


def data_args(*flags):
    return DataArguments(**{flags[i].lstrip("-"): flags[i + 1] for i in range(0, len(flags), 2)})


def test_a_local_dataset_folder_reads_like_the_csvs_it_came_from(news_dir, tmp_path):
    folder = write_dataset_folder(news_dir, tmp_path / "my_dataset")
    loaded = load_splits(data_args("--dataset_name", folder, *DATASET_COLUMNS), ["train", "test"], seed=0)
    expected = csv_splits(news_dir)
    assert list(loaded) == ["train", "test"]
    for split in loaded:
        assert loaded[split].column_names == ["id", "document", "summary"]  # other columns dropped, id renamed
        assert loaded[split]["document"] == expected[split]["article"]
        assert loaded[split]["summary"] == expected[split]["highlights"]
        assert loaded[split]["id"] == [str(1000 + index) for index in range(len(expected[split]))]  # text ids
    # The same seeded draw as the CSV path: sampling is the source-independent part.
    sampled = load_splits(data_args("--dataset_name", folder, *DATASET_COLUMNS, "--max_train_samples", 5),
                          ["train"], seed=3)["train"]
    from_csv = load_summarization_splits({"train": os.path.join(news_dir, "train.csv")}, max_samples={"train": 5},
                                         seed=3)["train"]
    assert sampled["document"] == from_csv["article"]


def test_a_saved_dataset_dict_folder_is_read_with_load_from_disk(tmp_path):
    rows = {"id": ["a", "b"], "article": ["First story text.", "  Second story.  "], "highlights": ["One.", "Two."]}
    folder = str(tmp_path / "saved")
    DatasetDict({"test": Dataset.from_dict(rows)}).save_to_disk(folder)
    test = load_splits(data_args("--dataset_name", folder), ["test"], seed=0)["test"]
    assert test.to_dict() == {"id": ["a", "b"], "article": ["First story text.", "Second story."],
                              "highlights": ["One.", "Two."]}  # cleaned like a CSV


def test_dataset_mistakes_are_one_clear_error(news_dir, tmp_path):
    folder = write_dataset_folder(news_dir, tmp_path / "my_dataset")
    with pytest.raises(BadInputError, match=r"columns 'article' and 'highlights' not found \(columns found: doc_id, "
                                            r"document, summary, topic\); pass --text_column and --summary_column"):
        load_splits(data_args("--dataset_name", folder), ["train"], seed=0)
    os.remove(os.path.join(folder, "validation.jsonl"))
    with pytest.raises(BadInputError, match=r"no validation split \(splits found: train, test\)"):
        load_splits(data_args("--dataset_name", folder, *DATASET_COLUMNS), ["train", "validation"], seed=0)
    with pytest.raises(BadInputError, match=r"--dataset_name no/such-dataset could not be loaded \(.*\); pass a Hub"):
        load_splits(data_args("--dataset_name", "no/such-dataset"), ["test"], seed=0)  # offline in the suite
    with pytest.raises(BadInputError, match="--dataset_name x and --data_dir both name the data: pass one of them"):
        DataArguments(dataset_name="x", data_dir=news_dir)
    with pytest.raises(BadInputError, match="--dataset_config_name needs --dataset_name"):
        DataArguments(data_dir=news_dir, dataset_config_name="3.0.0")


def test_bbc_news_is_a_source_with_its_fixed_split(tmp_path, monkeypatch):
    corpus = tmp_path / "bbc"
    for index in range(30):
        topic = ("business", "tech", "sport")[index % 3]
        (corpus / topic).mkdir(parents=True, exist_ok=True)
        headline, intro, body = story(index)
        (corpus / topic / f"{index:03d}.txt").write_text(layout(headline, intro, body), encoding="utf-8")
    monkeypatch.setattr(bbc_news, "bbc_news_root", lambda: str(corpus))
    monkeypatch.setattr(sources_module, "BBC_SPLIT", {"seed": 0, "num_test": 5, "num_validation": 4})
    loaded = load_splits(data_args("--dataset_name", "bbc_news"), ["train", "validation", "test"], seed=0)
    expected = bbc_news.load_bbc_news(seed=0, num_test=5, num_validation=4)
    assert {split: len(rows) for split, rows in loaded.items()} == {"train": 21, "validation": 4, "test": 5}
    for split in loaded:
        assert loaded[split].to_dict() == expected[split].to_dict()
    assert describe_source(data_args("--dataset_name", "bbc_news")).name.startswith("BBC News 2004-05")
    # The comparison's CSVs of it are named after it, with their folder.
    bbc_news.write_bbc_csvs(str(tmp_path / "csvs"), seed=0, num_test=5, num_validation=4)
    written = describe_source(data_args("--data_dir", str(tmp_path / "csvs")))
    assert written.name.startswith("BBC News 2004-05") and written.location == str(tmp_path / "csvs")


def test_each_source_is_described_by_what_was_read(news_dir, tmp_path):
    assert describe_source(data_args("--dataset_name", "abisee/cnn_dailymail", "--dataset_config_name", "3.0.0")
                           ) == sources_module.DataSource(name="abisee/cnn_dailymail", hub_id="abisee/cnn_dailymail",
                                                          config="3.0.0")
    local = describe_source(data_args("--data_dir", news_dir))
    assert (local.name, local.hub_id, local.location) == (os.path.basename(news_dir), None, news_dir)
    folder = write_dataset_folder(news_dir, tmp_path / "my_dataset")
    assert describe_source(data_args("--dataset_name", folder)).hub_id is None  # a local folder is not a Hub id


def test_a_run_and_a_lead_baseline_read_a_dataset_folder_and_the_card_names_it(tiny_model_dir, news_dir, tmp_path):
    folder = write_dataset_folder(news_dir, tmp_path / "my_dataset")
    out = str(tmp_path / "run")
    run_summarization.run(["--method", "lora", "--model_name_or_path", tiny_model_dir, "--dataset_name", folder,
                           *DATASET_COLUMNS, "--output_dir", out, "--do_train", "--do_predict", "--predict_with_generate",
                           "--num_train_epochs", "1", "--max_train_samples", "4", "--max_predict_samples", "2",
                           "--lora_r", "2", "--generation_max_new_tokens", "4", "--generation_num_beams", "1",
                           "--max_length", "256"])
    with open(os.path.join(out, "generated_predictions.jsonl"), encoding="utf-8") as handle:
        ids = [json.loads(line)["id"] for line in handle]
    test_ids = {str(1000 + index) for index in range(len(csv_splits(news_dir)["test"]))}
    assert len(ids) == 2 and set(ids) <= test_ids  # the dataset's own ids, as text
    card = ModelCard.load(os.path.join(out, "README.md"))
    assert card.data.datasets is None  # no Hub dataset claimed for a local folder
    assert {result.dataset_type for result in card.data.eval_results} == {"local"}
    assert {result.dataset_name for result in card.data.eval_results} == {"my_dataset"}
    assert f"on my_dataset (`{folder}`) (data fingerprints: train `" in card.text
    assert "cnn_dailymail" not in card.content

    lead_dir = str(tmp_path / "lead")
    lead_baseline.run(["--dataset_name", folder, *DATASET_COLUMNS, "--output_dir", lead_dir, "--num_sentences", "1",
                       "--max_predict_samples", "2", "--data_seed", "42"])
    with open(os.path.join(lead_dir, "generated_predictions.jsonl"), encoding="utf-8") as handle:
        assert [json.loads(line)["id"] for line in handle] == ids  # the same seeded test draw as the run


def test_a_card_from_csvs_names_their_folder_and_no_borrowed_dataset(tiny_model_dir, news_dir, tmp_path):
    out = str(tmp_path / "run")
    run_summarization.run(["--method", "zero-shot", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir,
                           "--output_dir", out, "--do_predict", "--predict_with_generate", "--max_predict_samples", "2",
                           "--generation_max_new_tokens", "4", "--generation_num_beams", "1", "--max_length", "256"])
    card = ModelCard.load(os.path.join(out, "README.md"))
    assert card.data.datasets is None and "cnn_dailymail" not in card.content
    assert f"on {os.path.basename(news_dir)} (`{news_dir}`)" in card.text


def test_dataset_name_with_data_dir_is_refused_in_one_line(news_dir, capsys):
    line = fail(["--method", "zero-shot", "--dataset_name", "bbc_news", "--data_dir", news_dir, "--output_dir", "x"],
                capsys)
    assert line.endswith("--dataset_name bbc_news and --data_dir both name the data: pass one of them")
