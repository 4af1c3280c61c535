"""SIGTERM during training: a checkpoint at the end of the step, a line saying how to resume, a non-zero
exit, no results file (the run is unfinished); resuming from it finishes the run. After training (final save,
evaluation, prediction) the same exit and line, whole final weights, and the rerun evaluates without retraining."""

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

import run_summarization

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_sigterm_saves_a_resumable_checkpoint(tmp_path, tiny_model_dir, news_dir):
    out = tmp_path / "out"
    args = ["--method", "lora", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir, "--output_dir",
            str(out), "--do_train", "--num_train_epochs", "4", "--per_device_train_batch_size", "1",
            "--max_length", "256", "--max_eval_samples", "2", "--lora_r", "2", "--logging_steps", "1",
            "--disable_tqdm", "true", "--generation_max_new_tokens", "16"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=REPO, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, os.path.join(REPO, "run_summarization.py"), *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:  # wait until training is under way, then preempt
        lines.append(line)
        if "'loss'" in line:
            process.send_signal(signal.SIGTERM)
            break
    output = "".join(lines) + process.stdout.read()
    assert process.wait(timeout=120) == 143, output[-3000:]
    assert "resume with --output_dir" in output and "--resume_from_checkpoint true" in output
    checkpoints = sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint-"))
    assert len(checkpoints) == 1 and (out / checkpoints[0] / "adapter_model.safetensors").is_file()
    step = json.loads((out / checkpoints[0] / "trainer_state.json").read_text())["global_step"]
    assert 0 < step < 4 * 32  # stopped early, mid-epoch
    assert not (out / "all_results.json").exists()

    run_summarization.main([*args, "--num_train_epochs", "4", "--resume_from_checkpoint", "true"])
    results = json.loads((out / "all_results.json").read_text())
    state = json.loads((out / "trainer_state.json").read_text())
    assert results["method"] == "lora" and state["global_step"] == 4 * 32


# Runs the command with a SIGTERM sent to itself at a chosen point after training: deterministic, unlike a timer.
SIGTERM_AT = """
import os, signal, sys
import run_summarization
from summarization_training import SummarizationTrainer

where, argv = sys.argv[1], sys.argv[2:]
stock_save, stock_predict = SummarizationTrainer._save, SummarizationTrainer.predict

def save(self, output_dir=None, state_dict=None):
    if where == "final save" and os.path.abspath(output_dir or self.args.output_dir) == os.path.abspath(
            self.args.output_dir):
        os.kill(os.getpid(), signal.SIGTERM)
    stock_save(self, output_dir, state_dict)

def predict(self, *args, **kwargs):
    if where == "predict":
        os.kill(os.getpid(), signal.SIGTERM)
    return stock_predict(self, *args, **kwargs)

SummarizationTrainer._save, SummarizationTrainer.predict = save, predict
run_summarization.main(argv)
"""


@pytest.mark.parametrize("where", ["final save", "predict"])
def test_sigterm_after_training_leaves_an_unfinished_run_that_finishes_without_retraining(where, tmp_path,
                                                                                         tiny_model_dir, news_dir,
                                                                                         caplog):
    out = tmp_path / "out"
    args = ["--method", "lora", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir, "--output_dir",
            str(out), "--do_train", "--do_eval", "--do_predict", "--predict_with_generate", "--num_train_epochs", "2",
            "--per_device_train_batch_size", "8", "--max_train_samples", "16", "--max_eval_samples", "4",
            "--max_predict_samples", "4", "--max_length", "192", "--lora_r", "2", "--generation_num_beams", "1",
            "--generation_max_new_tokens", "8", "--eval_generate_samples", "2", "--disable_tqdm", "true"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=REPO, PYTHONUNBUFFERED="1")
    done = subprocess.run([sys.executable, "-c", SIGTERM_AT, where, *args], env=env, capture_output=True, text=True,
                          timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 143, output[-3000:]
    assert "Traceback" not in output
    assert f"SIGTERM after training: the run is unfinished (no all_results.json); finish it with --output_dir {out} " \
           "--resume_from_checkpoint true" in output
    if where == "final save":
        assert "received SIGTERM while writing the final weights: finishing them" in output
    assert not (out / "all_results.json").exists()
    # The final weights are whole (the best checkpoint's, load_best_model_at_end), and training is marked finished.
    best = json.loads((out / "trainer_state.json").read_text())["best_model_checkpoint"]
    final = load_file(out / "adapter_model.safetensors")
    assert all(torch.equal(final[k], v) for k, v in load_file(os.path.join(best, "adapter_model.safetensors")).items())
    assert (out / "train_results.json").is_file()
    weights, train = (out / "adapter_model.safetensors").read_bytes(), (out / "train_results.json").read_text()

    with caplog.at_level("WARNING"):
        run_summarization.main([*args, "--resume_from_checkpoint", "true"])
    assert "training finished before the run was stopped; evaluating its saved weights" in caplog.text
    results = json.loads((out / "all_results.json").read_text())
    assert (out / "train_results.json").read_text() == train  # the first run's training figures are reported
    assert results["train_runtime"] == json.loads(train)["train_runtime"] and "eval_loss" in results
    assert "predict_rouge1" in results and len((out / "generated_predictions.jsonl").read_text().splitlines()) == 4
    assert (out / "adapter_model.safetensors").read_bytes() == weights  # evaluated, not retrained
