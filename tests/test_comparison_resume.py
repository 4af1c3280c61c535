"""What a rerun of the comparison does with a row's folder: keep, resume or run again (comparison/resume.py)."""

import os

from comparison import resume
from core import run_folder

COMMAND = ["run_summarization.py", "--method", "lora", "--output_dir", "runs/lora", "--seed", "0"]


def test_a_row_is_kept_only_when_finished_with_the_same_inputs(tmp_path):
    row = str(tmp_path / "lora")
    inputs = resume.row_inputs([*COMMAND, "--overwrite_output_dir"], "data", "model")
    assert inputs["command"] == COMMAND  # how a row starts is not one of its inputs
    assert resume.identity([*COMMAND, "--resume_from_checkpoint", "true"]) == COMMAND
    assert resume.decide(row, inputs, fresh=False) == resume.RUN  # nothing there yet
    resume.record(row, inputs)
    assert resume.decide(row, inputs, fresh=False) == resume.RUN  # started, nothing saved: start again
    os.makedirs(os.path.join(row, "checkpoint-4"))
    run_folder.write_json(os.path.join(row, "checkpoint-4"), run_folder.TRAINER_STATE, {"global_step": 4})
    assert resume.decide(row, inputs, fresh=False) == resume.RESUME
    assert resume.start_flags(resume.RESUME) == ["--resume_from_checkpoint", "true"]
    run_folder.write_json(row, run_folder.RESULTS, {"method": "lora"})
    assert resume.decide(row, inputs, fresh=False) == resume.SKIP
    assert resume.decide(row, inputs, fresh=True) == resume.RUN
    for changed in (resume.row_inputs([*COMMAND, "--lora_r", "8"], "data", "model"),
                    resume.row_inputs(COMMAND, "other data", "model"),
                    resume.row_inputs(COMMAND, "data", "other model")):
        assert resume.decide(row, changed, fresh=False) == resume.RUN
    assert resume.start_flags(resume.RUN) == ["--overwrite_output_dir"]


def test_the_data_and_model_digests_follow_every_byte(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "validation", "test"):
        (data / f"{split}.csv").write_text("id,article,highlights\na,Some text.,Text.\n")
    (data / ".cache").mkdir()
    (data / ".cache" / "x.arrow").write_text("cache")
    before = resume.source_digest(["--data_dir", str(data)])
    (data / ".cache" / "x.arrow").write_text("another cache")  # hidden caches are not the data
    assert resume.source_digest(["--data_dir", str(data)]) == before
    (data / "test.csv").write_text("id,article,highlights\na,Some text!,Text.\n")
    assert resume.source_digest(["--data_dir", str(data)]) != before
    hub = resume.source_digest(["--dataset_name", "abisee/cnn_dailymail", "--dataset_config_name", "3.0.0"])
    assert hub != resume.source_digest(["--dataset_name", "abisee/cnn_dailymail", "--dataset_config_name", "2.0.0"])
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"\x00" * 10)
    first = resume.model_digest(str(model))
    (model / "model.safetensors").write_bytes(b"\x00" * 9 + b"\x01")
    assert resume.model_digest(str(model)) != first and resume.model_digest("gpt2") != first
