"""Atomic checkpoints: a save cut off midway (an exception, SIGKILL) never leaves a checkpoint-N folder, never
touches the checkpoints before it, and `--resume_from_checkpoint true` continues from the last good one to the
same weights as an uninterrupted run."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from types import SimpleNamespace

import pytest
from safetensors.torch import load_file
from transformers import TrainerState

import run_summarization
from core import run_folder
from summarization_training import SummarizationTrainer
from summarization_training.checkpointing import save_checkpoint_atomically

from .test_resume import CUDA_TOLERANCE, ON_CUDA, WEIGHTS, args, assert_same_weights

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def recomputed(expected, rel=0.0):
    """What a number (or list of numbers) computed again by another run must equal: `expected` on CPU, or
    within `rel` where it is a sum taken in another order; within CUDA_TOLERANCE as well on CUDA."""
    if ON_CUDA:
        return pytest.approx(expected, rel=max(rel, CUDA_TOLERANCE["rtol"]), abs=CUDA_TOLERANCE["atol"])
    return pytest.approx(expected, rel=rel, abs=0) if rel else expected


# run_summarization.py in a child process that acts at chosen points of its own run, so that a signal or a
# kill lands at the same point on a fast machine and a slow one. Plan items are "EVENT:ACTION".
# EVENT: "step N" (training step N starts), "evaluation N" (the evaluation after step N starts),
# "checkpoint N" (checkpoint-N is being written: its weights and optimizer are on disk, its RNG and trainer
# state not yet), "final save" (the final weights), "predict"; "rank R EVENT" is rank R's only (torchrun).
# ACTION: a signal the child sends itself, or "wait" (until a signal from outside has been handled: the test
# sends it on reading "waiting for a signal"). At exit the child prints its exit code and last training step.
CHILD = """
import os, signal, sys, time
import run_summarization
from summarization_training import SummarizationTrainer
from trainer_callbacks import PreemptionCallback

split = sys.argv.index("--")
plan, argv = dict(item.split(":") for item in sys.argv[1:split]), sys.argv[split + 1:]
rank = os.environ.get("RANK", "0")
stock = {name: getattr(SummarizationTrainer, name)
         for name in ("training_step", "evaluate", "_save_rng_state", "_save", "predict")}
last_step = 0

def at(event, trainer):
    action = plan.get(event, plan.get(f"rank {rank} {event}"))
    if action == "wait":
        preemption = next(c for c in trainer.callback_handler.callbacks if isinstance(c, PreemptionCallback))
        print(f"waiting for a signal at {event}", flush=True)
        deadline = time.monotonic() + 60
        while not preemption.requested and time.monotonic() < deadline:
            time.sleep(0.01)
    elif action is not None:
        print(f"sending {action} at {event}", flush=True)
        os.kill(os.getpid(), signal.Signals[action])
        print(f"still running after {action} at {event}", flush=True)

def training_step(self, *args, **kwargs):
    global last_step
    last_step = self.state.global_step + 1
    at(f"step {last_step}", self)
    return stock["training_step"](self, *args, **kwargs)

def evaluate(self, *args, **kwargs):
    at(f"evaluation {self.state.global_step}", self)
    return stock["evaluate"](self, *args, **kwargs)

def _save_rng_state(self, output_dir):
    at(f"checkpoint {self.state.global_step}", self)
    return stock["_save_rng_state"](self, output_dir)

def _save(self, output_dir=None, state_dict=None):
    if os.path.abspath(output_dir or self.args.output_dir) == os.path.abspath(self.args.output_dir):
        at("final save", self)
    return stock["_save"](self, output_dir, state_dict)

def predict(self, *args, **kwargs):
    at("predict", self)
    return stock["predict"](self, *args, **kwargs)

for function in (training_step, evaluate, _save_rng_state, _save, predict):
    setattr(SummarizationTrainer, function.__name__, function)
code = 0
try:
    run_summarization.main(argv)
except SystemExit as stop:
    code = stop.code
    raise
except BaseException:
    code = "an exception"
    raise
finally:
    print(f"rank {rank} exits with code {code} after training step {last_step}", flush=True)
"""


def run_child(plan, argv, send=None, timeout=300):
    """CHILD with `plan` (a list of "EVENT:ACTION") on run_summarization's `argv`: (exit code, output).
    `send`: the signal to send it when it waits for one."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=REPO, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-c", CHILD, *plan, "--", *argv], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    expired = []
    watchdog = threading.Timer(timeout, lambda: (expired.append(True), process.kill()))
    watchdog.start()
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if send is not None and line.startswith("waiting for a signal"):
                process.send_signal(send)
    finally:
        watchdog.cancel()
    code, output = process.wait(), "".join(lines)
    if expired:
        pytest.fail(f"the child was still running after {timeout} s:\n{output[-3000:]}")
    return code, output


def tree_hashes(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def checkpoints(out):
    return sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint-"))


class FakeTrainer:
    """The attributes `save_checkpoint_atomically` uses, one process."""

    def __init__(self, run_dir, step, best_step=None, limit=None):
        self.run_dir = str(run_dir)
        self.args = SimpleNamespace(should_save=True, save_total_limit=limit)
        self.state = TrainerState(global_step=step)
        self.best_step = best_step
        self.accelerator = SimpleNamespace(wait_for_everyone=lambda: None)

    def _get_output_dir(self, trial):
        return self.run_dir

    def stock_save(self, model, trial, fail=False):
        """What Trainer._save_checkpoint does, in short: files into <output dir>/checkpoint-N, then the state."""
        folder = os.path.join(self._get_output_dir(trial), f"checkpoint-{self.state.global_step}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "weights"), "w") as handle:
            handle.write(f"step {self.state.global_step}")
        if fail:
            raise RuntimeError("killed mid-save")
        if self.best_step == self.state.global_step:
            self.state.best_model_checkpoint = folder
        self.state.save_to_json(os.path.join(folder, "trainer_state.json"))


def test_a_checkpoint_appears_whole_under_its_final_name(tmp_path, caplog):
    (tmp_path / "tmp-checkpoint-1" / "checkpoint-1").mkdir(parents=True)  # left by a kill in an earlier run
    (tmp_path / "checkpoint-2").mkdir()  # the same step saved before (resumed from an earlier checkpoint)
    (tmp_path / "checkpoint-2" / "old-file").write_text("old")
    trainer = FakeTrainer(tmp_path, step=2, best_step=2)
    with caplog.at_level("WARNING"):
        save_checkpoint_atomically(trainer, trainer.stock_save, None, None)
    assert "tmp-checkpoint-1: a checkpoint save cut off by a kill" in caplog.text
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-2"]
    assert sorted(os.listdir(tmp_path / "checkpoint-2")) == ["trainer_state.json", "weights"]
    # The best checkpoint is recorded under its final name, in memory and in the saved state.
    assert trainer.state.best_model_checkpoint == str(tmp_path / "checkpoint-2")
    saved = json.loads((tmp_path / "checkpoint-2" / "trainer_state.json").read_text())
    assert saved["best_model_checkpoint"] == str(tmp_path / "checkpoint-2")


def test_a_save_cut_off_leaves_no_checkpoint_and_rotates_nothing(tmp_path):
    trainer = FakeTrainer(tmp_path, step=2, best_step=2, limit=1)
    save_checkpoint_atomically(trainer, trainer.stock_save, None, None)
    before = tree_hashes(tmp_path)
    trainer.state.global_step = 4
    with pytest.raises(RuntimeError):
        save_checkpoint_atomically(trainer, lambda m, t: trainer.stock_save(m, t, fail=True), None, None)
    assert checkpoints(tmp_path) == ["checkpoint-2"] and (tmp_path / "tmp-checkpoint-4").is_dir()
    assert {k: v for k, v in tree_hashes(tmp_path).items() if k.startswith("checkpoint-")} == before
    assert run_folder.latest_complete_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-2")
    # Later saves clear the leftover and rotate as usual (limit 1: the best, step 2, and the newest).
    for step in (6, 8):
        trainer.state.global_step = step
        save_checkpoint_atomically(trainer, trainer.stock_save, None, None)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-2", "checkpoint-8"]


def test_trainer_cut_off_mid_save_resumes_from_the_last_good_checkpoint(tmp_path, tiny_model_dir, news_dir,
                                                                        monkeypatch, caplog):
    extra = ("--load_best_model_at_end", "true", "--save_total_limit", "1",
             "--predict_with_generate", "false")
    reference, out = tmp_path / "reference", tmp_path / "out"
    run_summarization.main(args(tiny_model_dir, news_dir, str(reference), "lora", *extra))

    stock = SummarizationTrainer._save_rng_state
    seen = {}

    def crash_at_step_4(self, output_dir):  # weights, optimizer and scheduler of checkpoint-4 are written
        if self.state.global_step == 4:
            seen.update(tree_hashes(out / "checkpoint-2"))
            raise RuntimeError("killed mid-save")
        stock(self, output_dir)

    monkeypatch.setattr(SummarizationTrainer, "_save_rng_state", crash_at_step_4)
    with pytest.raises(RuntimeError, match="killed mid-save"):
        run_summarization.main(args(tiny_model_dir, news_dir, str(out), "lora", *extra))
    monkeypatch.setattr(SummarizationTrainer, "_save_rng_state", stock)
    assert checkpoints(out) == ["checkpoint-2"]
    assert (out / "tmp-checkpoint-4" / "checkpoint-4" / "adapter_model.safetensors").is_file()
    assert tree_hashes(out / "checkpoint-2") == seen
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["best_model_checkpoint"] == str(out / "checkpoint-2")

    with caplog.at_level("WARNING"):
        run_summarization.main(args(tiny_model_dir, news_dir, str(out), "lora", *extra,
                                    "--resume_from_checkpoint", "true"))
    assert "ignoring" in caplog.text and "removing" in caplog.text and "tmp-checkpoint-4" in caplog.text
    assert not [p for p in out.iterdir() if p.name.startswith("tmp-")]
    assert_same_weights(load_file(reference / WEIGHTS["lora"]), load_file(out / WEIGHTS["lora"]))


# 16 examples, batches of 4, 2 epochs: 8 steps, a checkpoint and an evaluation (of the loss alone) every 2.
KILL_ARGS = ("--per_device_train_batch_size", "4", "--save_strategy", "steps", "--save_steps", "2",
             "--eval_strategy", "steps", "--eval_steps", "2", "--logging_steps", "1", "--do_eval",
             "--predict_with_generate", "false", "--disable_tqdm", "true")


# Killed in a training step after checkpoint-4, or while checkpoint-4 is being written: its weights are on
# disk (for full fine-tuning, the whole model), and checkpoint-2 is the last complete one.
@pytest.mark.parametrize("method, kill_at, complete", [("lora", "step 5", ["checkpoint-2", "checkpoint-4"]),
                                                       ("full", "checkpoint 4", ["checkpoint-2"])],
                         ids=["lora-killed-in-step-5", "full-killed-saving-checkpoint-4"])
def test_sigkill_mid_step_or_mid_save_then_resume_equals_an_uninterrupted_run(
        method, kill_at, complete, tmp_path, tiny_model_dir, news_dir):
    reference, out = tmp_path / "reference", tmp_path / "out"
    code, output = run_child([f"{kill_at}:SIGKILL"],
                             args(tiny_model_dir, news_dir, str(out), method, *KILL_ARGS))
    assert code == -signal.SIGKILL, output[-3000:]
    assert f"sending SIGKILL at {kill_at}" in output  # killed there, mid-run
    assert not (out / "train_results.json").exists() and not (out / "all_results.json").exists()
    assert checkpoints(out) == complete
    assert all((out / name / "trainer_state.json").is_file() for name in complete)
    cut_off = [p.name for p in out.iterdir() if p.name.startswith("tmp-")]
    assert cut_off == (["tmp-checkpoint-4"] if kill_at == "checkpoint 4" else [])

    run_summarization.main(args(tiny_model_dir, news_dir, str(out), method, *KILL_ARGS,
                                "--resume_from_checkpoint", "true"))
    run_summarization.main(args(tiny_model_dir, news_dir, str(reference), method, *KILL_ARGS))
    assert_same_weights(load_file(reference / WEIGHTS[method]), load_file(out / WEIGHTS[method]))
    results = [json.loads((folder / "all_results.json").read_text()) for folder in (reference, out)]
    assert results[1]["eval_loss"] == recomputed(results[0]["eval_loss"])


def test_overwrite_output_dir_removes_leftovers_that_would_pass_for_this_run(tmp_path):
    for name in ("checkpoint-9", "tmp-checkpoint-12"):
        (tmp_path / name).mkdir()
    for name in ("all_results.json", "train_results.json", "eval_results.json", "README.md"):
        (tmp_path / name).write_text("{}")
    run_summarization.check_output_dir(SimpleNamespace(output_dir=str(tmp_path), overwrite_output_dir=True,
                                                       should_save=True))
    # A stale train_results.json would make --resume_from_checkpoint true skip this run's training.
    assert sorted(os.listdir(tmp_path)) == ["README.md"]
