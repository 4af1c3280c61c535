"""Resuming from a checkpoint ends with the same trained weights as the uninterrupted run, for every method."""

import os
import shutil

import pytest
import torch
from safetensors.torch import load_file

import run_summarization
from core import run_folder
from peft_methods import METHODS

from .conftest import takes_lora_flags

# The file holding what trained: the first weights file the method's row says it saves.
WEIGHTS = {name: next(f for f in row.saved_files if f.endswith(".safetensors")) for name, row in METHODS.items()}


# Runs train on CUDA when there is one, and CUDA kernels are not deterministic (atomic adds in backward
# passes, the reduction order cuBLAS picks): two identical GPU runs differ in the last bits. CPU kernels are,
# so there a resumed run must equal the uninterrupted one exactly.
ON_CUDA = torch.cuda.is_available()
CUDA_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def assert_same_weights(a, b):
    """Two state dicts of weights trained by two runs: equal on CPU, within CUDA_TOLERANCE on CUDA."""
    assert a.keys() == b.keys()
    for name in a:
        if ON_CUDA:
            torch.testing.assert_close(a[name], b[name], **CUDA_TOLERANCE, msg=name)
        else:
            assert torch.equal(a[name], b[name]), name


def args(model_dir, data_dir, out, method, *extra):
    return ["--method", method, "--model_name_or_path", model_dir, "--data_dir", data_dir, "--output_dir", out,
            "--do_train", "--num_train_epochs", "2", "--per_device_train_batch_size", "8", "--max_length", "192",
            "--max_train_samples", "16", "--max_eval_samples", "4", "--learning_rate", "1e-2",
            *(["--lora_r", "2"] if takes_lora_flags(method) else []), "--generation_max_new_tokens", "16", "--seed", "3", "--save_total_limit", "3",
            "--load_best_model_at_end", "false", *extra]


@pytest.mark.parametrize("method", list(METHODS))
def test_resumed_run_equals_uninterrupted_run(method, tmp_path, tiny_model_dir, news_dir):
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    run_summarization.main(args(tiny_model_dir, news_dir, str(full), method))
    # A run killed after its first epoch leaves the output folder with only the first checkpoint in it.
    os.makedirs(resumed)
    shutil.copytree(full / "checkpoint-2", resumed / "checkpoint-2")
    run_summarization.main(args(tiny_model_dir, news_dir, str(resumed), method, "--resume_from_checkpoint", "true"))
    a, b = load_file(full / WEIGHTS[method]), load_file(resumed / WEIGHTS[method])
    assert_same_weights(a, b)
    initial = load_file(full / "checkpoint-2" / WEIGHTS[method])
    assert not all(torch.equal(a[k], initial[k]) for k in a)  # the second epoch did change something


def test_resume_path_that_is_not_a_checkpoint(tmp_path, tiny_model_dir, news_dir, capsys):
    from .conftest import fail

    line = fail(args(tiny_model_dir, news_dir, str(tmp_path / "o"), "lora", "--resume_from_checkpoint",
                     str(tmp_path)), capsys)
    assert "is not a checkpoint (no trainer_state.json)" in line
    line = fail(args(tiny_model_dir, news_dir, str(tmp_path / "o"), "lora", "--resume_from_checkpoint", "true"),
                capsys)
    assert "no checkpoint-* folder in" in line


def test_resume_true_skips_a_checkpoint_cut_off_mid_save(tmp_path, caplog):
    for step, complete in ((2, True), (4, True), (6, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "adapter_model.safetensors").write_bytes(b"x")
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    with caplog.at_level("WARNING"):
        assert run_folder.latest_complete_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-4")
    assert "checkpoint-6 is incomplete" in caplog.text


def test_resumed_run_keeps_early_stopping_patience(tmp_path, tiny_model_dir, news_dir):
    """Scoring eval_loss as 'greater is better' makes every improving epoch count against patience, so the
    checkpoint holds a non-zero patience count that a resumed run must carry on from."""
    import json

    def stopping_args(out, *extra):
        return args(tiny_model_dir, news_dir, str(out), "lora", "--num_train_epochs", "6", "--greater_is_better",
                    "true", "--early_stopping_patience", "2", "--save_total_limit", "6", *extra)

    full, resumed = tmp_path / "full", tmp_path / "resumed"
    run_summarization.main(stopping_args(full))
    stopped_at = json.loads((full / "trainer_state.json").read_text())["global_step"]
    assert stopped_at < 6 * 2  # early stopping ended it
    def patience_counter(checkpoint):
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        return state["stateful_callbacks"]["EarlyStoppingCallback"]["attributes"]["early_stopping_patience_counter"]

    # A checkpoint before the stop whose patience count is already running (which epoch depends on the loss curve).
    checkpoints = sorted(full.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))
    counting = [path for path in checkpoints if int(path.name.split("-")[1]) < stopped_at and patience_counter(path)]
    assert counting, [(path.name, patience_counter(path)) for path in checkpoints]
    os.makedirs(resumed)
    shutil.copytree(counting[0], resumed / counting[0].name)
    run_summarization.main(stopping_args(resumed, "--resume_from_checkpoint", "true"))
    assert json.loads((resumed / "trainer_state.json").read_text())["global_step"] == stopped_at
