"""SIGTERM during training: a checkpoint at the end of the step, a line saying how to resume, a non-zero
exit, no results file (the run is unfinished); resuming from it finishes the run. After training (final save,
evaluation, prediction) the same exit and line, whole final weights, and the rerun evaluates without retraining.
Preempted mid-epoch or on an epoch's last step, then resumed, a run makes the evaluations, checkpoints, best model
and weights of an uninterrupted run, and reports the whole run's tokens, loss and time, as does a run killed
after a checkpoint."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

import run_summarization
from summarization_training import SummarizationTrainer

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


# 16 examples in batches of 4 for 3 epochs: 12 steps, an evaluation and a checkpoint after steps 4, 8 and 12
# (all kept with the default limit here; with limit 1, the best).
def schedule_args(model_dir, data_dir, out, *extra, limit=10):
    return ["--method", "lora", "--model_name_or_path", model_dir, "--data_dir", data_dir, "--output_dir", str(out),
            "--do_train", "--num_train_epochs", "3", "--per_device_train_batch_size", "4", "--max_train_samples", "16",
            "--max_eval_samples", "4", "--max_length", "192", "--learning_rate", "1e-2", "--lora_r", "2", "--seed", "3",
            "--logging_steps", "3", "--save_total_limit", str(limit), "--predict_with_generate", "false",
            "--disable_tqdm", "true", *extra]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_model_dir, news_dir):
    """The run folder of the uninterrupted run, by checkpoint limit."""
    folders = {}

    def run(limit=10):
        if limit not in folders:
            folders[limit] = tmp_path_factory.mktemp(f"uninterrupted-{limit}")
            run_summarization.main(schedule_args(tiny_model_dir, news_dir, folders[limit], limit=limit))
        return folders[limit]

    return run


def evaluations(state):
    return [(entry["step"], entry["eval_loss"]) for entry in state["log_history"] if "eval_loss" in entry]


def checkpoint_names(out):
    return sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint-"))


def sigterm_during_step(monkeypatch, step):
    stock = SummarizationTrainer.training_step

    def training_step(self, *args, **kwargs):
        if self.state.global_step == step - 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return stock(self, *args, **kwargs)

    monkeypatch.setattr(SummarizationTrainer, "training_step", training_step)


# Signalled mid-epoch or on the last step of an epoch; limit 1 keeps only the best, which an extra evaluation
# could take for itself.
@pytest.mark.parametrize("step, limit", [(5, 10), (8, 10), (5, 1)])
def test_preempted_then_resumed_run_equals_an_uninterrupted_run(step, limit, uninterrupted, tmp_path, tiny_model_dir,
                                                                 news_dir, monkeypatch, caplog):
    out, reference_dir = tmp_path / "out", uninterrupted(limit)
    with monkeypatch.context() as patch, caplog.at_level("WARNING"):
        sigterm_during_step(patch, step)
        with pytest.raises(SystemExit) as stopped:
            run_summarization.main(schedule_args(tiny_model_dir, news_dir, out, limit=limit))
    assert stopped.value.code == 143
    assert caplog.text.count("preempted: checkpoint saved") == 1
    # It stopped at the step it was signalled in; mid-epoch without evaluating, at the end of an epoch after the
    # scheduled evaluation.
    assert f"checkpoint-{step}" in checkpoint_names(out)
    preempted = json.loads((out / f"checkpoint-{step}" / "trainer_state.json").read_text())
    assert preempted["global_step"] == step
    assert [s for s, _ in evaluations(preempted)] == [s for s in (4, 8) if s <= step]

    started = time.perf_counter()
    run_summarization.main(schedule_args(tiny_model_dir, news_dir, out, "--resume_from_checkpoint", "true",
                                         limit=limit))
    resumed_wall = time.perf_counter() - started
    reference, resumed = (json.loads((folder / "trainer_state.json").read_text()) for folder in (reference_dir, out))
    assert evaluations(resumed) == evaluations(reference)
    assert checkpoint_names(out) == checkpoint_names(reference_dir)
    assert os.path.basename(resumed["best_model_checkpoint"]) == os.path.basename(reference["best_model_checkpoint"])
    assert resumed["best_metric"] == reference["best_metric"]
    a, b = load_file(reference_dir / "adapter_model.safetensors"), load_file(out / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    # The summary is the whole run's cost, not the last session's.
    full, total = (json.loads((folder / "all_results.json").read_text()) for folder in (reference_dir, out))
    assert total["train_tokens"] == full["train_tokens"] > 0
    assert total["train_loss"] == pytest.approx(full["train_loss"], rel=1e-6)
    first_session = preempted["stateful_callbacks"]["ThroughputCallback"]["attributes"]["totals"]["seconds"]
    last_log = [entry for entry in resumed["log_history"] if "loss" in entry][-1]  # the resumed session's clock
    assert first_session + last_log["train_runtime"] <= total["train_runtime"] <= first_session + resumed_wall
    assert 0 < total["train_seconds_excluding_eval"] <= total["train_runtime"]
    assert total["train_tokens_per_second"] == pytest.approx(total["train_tokens"]
                                                             / total["train_seconds_excluding_eval"])
    assert json.loads((out / "train_results.json").read_text())["train_tokens"] == full["train_tokens"]


def test_run_killed_after_a_checkpoint_reports_the_whole_runs_cost(uninterrupted, tmp_path, tiny_model_dir,
                                                                    news_dir):
    # A run killed (SIGKILL: no preemption save) during its second epoch leaves only its first checkpoint.
    out, reference_dir = tmp_path / "out", uninterrupted()
    out.mkdir()
    shutil.copytree(reference_dir / "checkpoint-4", out / "checkpoint-4")
    run_summarization.main(schedule_args(tiny_model_dir, news_dir, out, "--resume_from_checkpoint", "true"))
    full, total = (json.loads((folder / "all_results.json").read_text()) for folder in (reference_dir, out))
    assert total["train_tokens"] == full["train_tokens"]
    # Exact only if the loss of step 4, logged every 3 steps, reached the checkpoint: runs log at checkpoints.
    assert total["train_loss"] == pytest.approx(full["train_loss"], rel=1e-6)
    first = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert total["train_runtime"] > first["stateful_callbacks"]["ThroughputCallback"]["attributes"]["totals"]["seconds"]
    # The loss curve too is the uninterrupted run's: its logs after the checkpoint cover the same steps.
    reference, resumed = (json.loads((folder / "trainer_state.json").read_text()) for folder in (reference_dir, out))
    assert [(e["step"], e["loss"]) for e in resumed["log_history"] if "loss" in e] == [
        (e["step"], e["loss"]) for e in reference["log_history"] if "loss" in e]
