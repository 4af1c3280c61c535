"""SIGTERM during training: a checkpoint at the end of the step, a line saying how to resume, a non-zero
exit, no results file (the run is unfinished); resuming from it finishes the run. A first SIGINT (Ctrl-C) does
the same; a second signal while that checkpoint is written exits at once, leaving the checkpoints before it.
Sent to one of two processes, it stops both at the same step, with one checkpoint. After training (final save,
evaluation, prediction) the same exit and line, whole final weights, and the rerun evaluates without retraining.
Preempted mid-epoch, on an epoch's last step or during an evaluation, then resumed, a run makes the
evaluations, checkpoints, best model and weights of an uninterrupted run, and reports the whole run's tokens,
loss and time, as does a run killed after a checkpoint."""

import json
import os
import shutil
import signal
import time

import pytest
import torch
from safetensors.torch import load_file

import run_summarization
from core import run_folder
from summarization_training import SummarizationTrainer

from .test_checkpointing import CHILD, assert_same_weights, recomputed, run_child
from .test_distributed import torchrun


def test_sigterm_saves_a_resumable_checkpoint(tmp_path, tiny_model_dir, news_dir):
    # 8 examples in batches of 2 for 2 epochs: 8 steps. The signal comes from another process, as a
    # scheduler's does, while the run waits in step 3 (mid-epoch) for it.
    out = tmp_path / "out"
    args = ["--method", "lora", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir, "--output_dir",
            str(out), "--do_train", "--num_train_epochs", "2", "--per_device_train_batch_size", "2",
            "--max_train_samples", "8", "--max_length", "256", "--max_eval_samples", "2", "--lora_r", "2",
            "--logging_steps", "1", "--predict_with_generate", "false", "--disable_tqdm", "true"]
    code, output = run_child(["step 3:wait"], args, send=signal.SIGTERM)
    assert code == 143, output[-3000:]
    assert "received SIGTERM: saving a checkpoint at the end of this step" in output
    assert "resume with --output_dir" in output and "--resume_from_checkpoint true" in output
    assert checkpoint_names(out) == ["checkpoint-3"]
    assert (out / "checkpoint-3" / "adapter_model.safetensors").is_file()
    assert json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())["global_step"] == 3
    assert not (out / "all_results.json").exists()

    run_summarization.main([*args, "--resume_from_checkpoint", "true"])
    results = json.loads((out / "all_results.json").read_text())
    state = json.loads((out / "trainer_state.json").read_text())
    assert results["method"] == "lora" and state["global_step"] == 8


def test_second_sigterm_while_the_checkpoint_is_written_exits_at_once(tmp_path, tiny_model_dir, news_dir):
    # The first SIGTERM in step 6 (mid-epoch 2, after checkpoint-4), the second while checkpoint-6 is written:
    # whoever sends it again wants the process gone now, even mid-save. The staging folder keeps that half
    # save from passing for a checkpoint, so checkpoint-4 is still the one to resume from.
    out = tmp_path / "out"
    code, output = run_child(["step 6:SIGTERM", "checkpoint 6:SIGTERM"],
                             schedule_args(tiny_model_dir, news_dir, out))
    assert code == 143, output[-3000:]
    assert output.count("received SIGTERM: saving a checkpoint at the end of this step") == 1
    assert "sending SIGTERM at checkpoint 6" in output
    # Gone inside the handler: nothing of the run (not even the child's own last line) ran after it.
    assert "still running after SIGTERM at checkpoint 6" not in output and "exits with code" not in output
    assert "preempted: checkpoint saved" not in output and "Traceback" not in output
    assert checkpoint_names(out) == ["checkpoint-4"] and not (out / "all_results.json").exists()
    cut_off = out / "tmp-checkpoint-6" / "checkpoint-6"
    assert (cut_off / "adapter_model.safetensors").is_file() and not (cut_off / "trainer_state.json").exists()
    assert run_folder.latest_complete_checkpoint(str(out)) == str(out / "checkpoint-4")


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
    code, output = run_child([f"{where}:SIGTERM"], args)
    assert code == 143, output[-3000:]
    assert "Traceback" not in output
    assert f"SIGTERM after training: the run is unfinished (no all_results.json); finish it with --output_dir {out} " \
           "--resume_from_checkpoint true" in output
    if where == "final save":
        assert "received SIGTERM while writing the final weights: finishing them" in output
    assert not (out / "all_results.json").exists()
    # The final weights are whole (the best checkpoint's, load_best_model_at_end), and training is marked finished.
    # A copy, not a recomputation: equal on any device.
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


def signal_during(monkeypatch, where, step, signum=signal.SIGTERM):
    """Sends `signum` to this process in training step `step`, or in the evaluation after it."""
    name = {"step": "training_step", "evaluation": "evaluate"}[where]
    stock = getattr(SummarizationTrainer, name)

    def signalling(self, *args, **kwargs):
        if self.state.global_step == (step - 1 if where == "step" else step):
            os.kill(os.getpid(), signum)
        return stock(self, *args, **kwargs)

    monkeypatch.setattr(SummarizationTrainer, name, signalling)


# Signalled mid-epoch or on the last step of an epoch; limit 1 keeps only the best, which an extra evaluation
# could take for itself. Signalled during the evaluation that ends epoch 1 (step 4, the uninterrupted run's
# best here), the run stops after the checkpoint that follows it: it used to train a step more and save
# again, with the best checkpoint forgotten (and, with limit 1, deleted), so the resumed run ended on its last
# weights.
@pytest.mark.parametrize("where, step, limit", [("step", 5, 10), ("step", 8, 10), ("step", 5, 1),
                                                ("evaluation", 4, 1)])
def test_preempted_then_resumed_run_equals_an_uninterrupted_run(where, step, limit, uninterrupted, tmp_path,
                                                                 tiny_model_dir, news_dir, monkeypatch,
                                                                 caplog):
    out, reference_dir = tmp_path / "out", uninterrupted(limit)
    with monkeypatch.context() as patch, caplog.at_level("WARNING"):
        signal_during(patch, where, step)
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
    steps, losses = zip(*evaluations(resumed))
    reference_steps, reference_losses = zip(*evaluations(reference))
    assert steps == reference_steps and list(losses) == recomputed(list(reference_losses))
    assert checkpoint_names(out) == checkpoint_names(reference_dir)
    assert os.path.basename(resumed["best_model_checkpoint"]) == os.path.basename(reference["best_model_checkpoint"])
    assert resumed["best_metric"] == recomputed(reference["best_metric"])
    assert_same_weights(load_file(reference_dir / "adapter_model.safetensors"),
                        load_file(out / "adapter_model.safetensors"))

    # The summary is the whole run's cost, not the last session's.
    full, total = (json.loads((folder / "all_results.json").read_text()) for folder in (reference_dir, out))
    assert total["train_tokens"] == full["train_tokens"] > 0
    assert total["train_loss"] == recomputed(full["train_loss"], rel=1e-6)
    first_session = preempted["stateful_callbacks"]["ThroughputCallback"]["attributes"]["totals"]["seconds"]
    last_log = [entry for entry in resumed["log_history"] if "loss" in entry][-1]  # the resumed session's clock
    assert first_session + last_log["train_runtime"] <= total["train_runtime"] <= first_session + resumed_wall
    assert 0 < total["train_seconds_excluding_eval"] <= total["train_runtime"]
    assert total["train_tokens_per_second"] == pytest.approx(total["train_tokens"]
                                                             / total["train_seconds_excluding_eval"])
    assert json.loads((out / "train_results.json").read_text())["train_tokens"] == full["train_tokens"]


def test_first_sigint_during_training_checkpoints_and_stops_like_sigterm(tmp_path, tiny_model_dir, news_dir,
                                                                           monkeypatch, caplog):
    # Ctrl-C: the module handles a first SIGINT as it does SIGTERM (only a second signal exits at once). Were
    # it left to the handler the run started with, the one installed here fails the test, where Python's
    # default (KeyboardInterrupt) would end the whole pytest session.
    def not_handled(signum, frame):
        raise AssertionError("SIGINT reached the handler in place before the run")

    out = tmp_path / "out"
    before = signal.signal(signal.SIGINT, not_handled)
    try:
        with monkeypatch.context() as patch, caplog.at_level("WARNING"):
            signal_during(patch, "step", 5, signal.SIGINT)
            with pytest.raises(SystemExit) as stopped:
                run_summarization.main(schedule_args(tiny_model_dir, news_dir, out))
        assert signal.getsignal(signal.SIGINT) is not_handled  # given back when the run ended
    finally:
        signal.signal(signal.SIGINT, before)
    assert stopped.value.code == 143
    assert "received SIGINT: saving a checkpoint at the end of this step, then stopping" in caplog.text
    assert caplog.text.count("preempted: checkpoint saved") == 1
    assert checkpoint_names(out) == ["checkpoint-4", "checkpoint-5"]
    assert not (out / "all_results.json").exists()
    preempted = json.loads((out / "checkpoint-5" / "trainer_state.json").read_text())
    assert preempted["global_step"] == 5
    assert [s for s, _ in evaluations(preempted)] == [4]  # mid-epoch: no evaluation


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
    assert total["train_loss"] == recomputed(full["train_loss"], rel=1e-6)
    first = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert total["train_runtime"] > first["stateful_callbacks"]["ThroughputCallback"]["attributes"]["totals"]["seconds"]
    # The loss curve too is the uninterrupted run's: its logs after the checkpoint cover the same steps.
    reference, resumed = (json.loads((folder / "trainer_state.json").read_text()) for folder in (reference_dir, out))
    def loss_curve(state):
        return zip(*[(entry["step"], entry["loss"]) for entry in state["log_history"] if "loss" in entry])

    (steps, losses), (reference_steps, reference_losses) = loss_curve(resumed), loss_curve(reference)
    assert steps == reference_steps and list(losses) == recomputed(list(reference_losses))


# 16 examples, 2 processes x batches of 2, 2 epochs: 8 steps. Only rank 1, which writes no files, gets the
# signal: in step 3, or during the evaluation that ends epoch 1 (after step 4's end was checked, before its
# checkpoint). Rank 0 learns of it through the flag the processes reduce at the end of each step and at each
# save. Without it rank 0 would go on into the next step and wait there for rank 1 (the launch's timeout then
# fails the test).
@pytest.mark.parametrize("event, step", [("step 3", 3), ("evaluation 4", 4)])
def test_sigterm_to_one_of_two_processes_stops_both_at_the_same_step(event, step, tmp_path, tiny_model_dir,
                                                                     news_dir):
    out, script = tmp_path / "out", tmp_path / "child.py"
    script.write_text(CHILD)
    argv = schedule_args(tiny_model_dir, news_dir, out, "--num_train_epochs", "2",
                         "--per_device_train_batch_size", "2",
                         "--use_cpu", "true")  # without it, CPU processes under torchrun each train alone
    code, output = torchrun(script, [f"rank 1 {event}:SIGTERM", "--", *argv], tmp_path, timeout=120)
    assert code != 0, output[-3000:]  # torchrun reports its workers' exit codes as a failure
    for rank in (0, 1):
        assert f"rank {rank} exits with code 143 after training step {step}" in output, output[-3000:]
    assert output.count("received SIGTERM") == 1
    # One checkpoint, at that step, whole, with both processes' RNG states.
    checkpoint = out / f"checkpoint-{step}"
    assert checkpoint_names(out) == [checkpoint.name]
    assert not [p for p in out.iterdir() if p.name.startswith("tmp-")]
    assert {"rng_state_0.pth", "rng_state_1.pth", "adapter_model.safetensors", "optimizer.pt"} <= set(
        os.listdir(checkpoint))
    assert json.loads((checkpoint / "trainer_state.json").read_text())["global_step"] == step
    assert not (out / "all_results.json").exists()
    # Resumable: here by one process with the same global batch (1 x 4), which finishes the 8 steps.
    run_summarization.main(schedule_args(tiny_model_dir, news_dir, out, "--num_train_epochs", "2",
                                         "--resume_from_checkpoint", "true"))
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 8
    assert (out / "all_results.json").is_file()
