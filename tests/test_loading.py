"""CSV loading: the Kaggle layout, cleaning, seeded sampling, and clear errors for bad files."""

import csv

import pytest

from core import BadInputError
from summarization_data import load_summarization_splits
from summarization_data.loading import resolve_data_files


def write_csv(path, rows, header=("id", "article", "highlights")):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def rows(n):
    return [(f"id{i}", f"Article number {i}, with a comma.\nAnd a second paragraph.", f"Fact {i}.\nMore {i}.")
            for i in range(n)]


def test_reads_quoted_multiline_fields_and_keeps_the_columns(tmp_path):
    path = write_csv(tmp_path / "train.csv", rows(5))
    data = load_summarization_splits({"train": path})
    assert data["train"].column_names == ["id", "article", "highlights"]
    assert data["train"][2] == {"id": "id2", "article": rows(5)[2][1], "highlights": rows(5)[2][2]}


def test_strips_text_and_drops_empty_rows_with_a_count(tmp_path, caplog):
    path = write_csv(tmp_path / "train.csv", [("a", "  Body one.  ", "  Sum one. "), ("b", "   ", "Sum."),
                                              ("c", "Body.", ""), ("d", "Body four.", "Sum four.")])
    with caplog.at_level("WARNING"):
        data = load_summarization_splits({"train": path})
    assert data["train"]["id"] == ["a", "d"]
    assert data["train"][0]["article"] == "Body one." and data["train"][0]["highlights"] == "Sum one."
    assert "dropped 2 of 4 rows" in caplog.text


def test_max_samples_draws_a_seeded_random_subset_not_the_first_rows(tmp_path):
    path = write_csv(tmp_path / "train.csv", rows(200))
    first = load_summarization_splits({"train": path}, max_samples={"train": 20}, seed=1)["train"]["id"]
    again = load_summarization_splits({"train": path}, max_samples={"train": 20}, seed=1)["train"]["id"]
    other = load_summarization_splits({"train": path}, max_samples={"train": 20}, seed=2)["train"]["id"]
    assert first == again and first != other and len(set(first)) == 20
    assert set(first) != {f"id{i}" for i in range(20)}


def test_renamed_columns_work_with_flags_and_missing_ids_are_made_up(tmp_path):
    path = write_csv(tmp_path / "t.csv", [("Story one.", "Summary one.")], header=("story", "summary"))
    data = load_summarization_splits({"train": path}, text_column="story", summary_column="summary")
    assert data["train"][0] == {"story": "Story one.", "summary": "Summary one.", "id": "train-0"}


def test_missing_column_names_file_wanted_and_found(tmp_path):
    path = write_csv(tmp_path / "train.csv", [("1", "a", "b")], header=("id", "text", "highlights"))
    with pytest.raises(BadInputError, match=r"train.csv: column 'article' not found \(columns found: id, text, "
                                            r"highlights\); pass --text_column"):
        load_summarization_splits({"train": path})


def test_header_only_file_is_an_empty_split(tmp_path):
    path = write_csv(tmp_path / "validation.csv", [])
    with pytest.raises(BadInputError, match="validation split .* has no usable rows"):
        load_summarization_splits({"validation": path})


def test_invalid_utf8_is_replaced_and_warned(tmp_path, caplog):
    path = tmp_path / "train.csv"
    path.write_bytes(b"id,article,highlights\n1,Caf\xe9 owner wins prize.,Owner wins.\n2,Fine text.,Fine.\n")
    with caplog.at_level("WARNING"):
        data = load_summarization_splits({"train": str(path)})
    assert data["train"][0]["article"] == "Caf\ufffd owner wins prize."
    assert "1 rows had invalid UTF-8" in caplog.text


def test_binary_file_and_broken_csv_are_refused(tmp_path):
    binary = tmp_path / "train.csv"
    binary.write_bytes(b"PK\x03\x04\x00\x00binary\x00data" * 50)
    with pytest.raises(BadInputError, match="is not a text CSV"):
        load_summarization_splits({"train": str(binary)})
    broken = tmp_path / "broken.csv"
    broken.write_text('id,article,highlights\n1,"never closed quote,x\n')
    with pytest.raises(BadInputError, match="broken.csv is not a readable CSV"):
        load_summarization_splits({"train": str(broken)})


def test_data_files_resolve_from_the_kaggle_folder_or_explicit_flags(tmp_path):
    write_csv(tmp_path / "train.csv", rows(1))
    explicit = write_csv(tmp_path / "other.csv", rows(1))
    assert resolve_data_files(str(tmp_path), {"train": None}, ["train"]) == {"train": str(tmp_path / "train.csv")}
    assert resolve_data_files(str(tmp_path), {"train": explicit}, ["train"]) == {"train": explicit}
    with pytest.raises(BadInputError, match=r"validation file .*validation.csv does not exist \(from --data_dir"):
        resolve_data_files(str(tmp_path), {}, ["train", "validation"])
    with pytest.raises(BadInputError, match="no test data: pass --data_dir"):
        resolve_data_files(None, {}, ["test"])
