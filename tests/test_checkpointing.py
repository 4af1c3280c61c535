"""Atomic checkpoints: a save cut off midway (an exception, SIGKILL) never leaves a checkpoint-N folder, never
touches the checkpoints before it, and `--resume_from_checkpoint true` continues from the last good one to the
same weights as an uninterrupted run."""

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerState

import run_summarization
from core import run_folder
from summarization_training import SummarizationTrainer
from summarization_training.checkpointing import save_checkpoint_atomically

from .test_resume import WEIGHTS, args

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    extra = ("--load_best_model_at_end", "true", "--save_total_limit", "1")
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
    a, b = load_file(reference / WEIGHTS["lora"]), load_file(out / WEIGHTS["lora"])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("method, seed", [("full", 0), ("lora", 1)])
def test_sigkill_at_a_random_point_then_resume_equals_an_uninterrupted_run(method, seed, tmp_path, tiny_model_dir,
                                                                          news_dir):
    # 16 examples, batches of 4, 2 epochs: 8 steps, a checkpoint and an evaluation every 2.
    extra = ("--per_device_train_batch_size", "4", "--save_strategy", "steps", "--save_steps", "2",
             "--eval_strategy", "steps", "--eval_steps", "2", "--logging_steps", "1", "--disable_tqdm", "true",
             "--do_eval")
    reference, out = tmp_path / "reference", tmp_path / "out"
    rng = random.Random(seed)
    kill_after, delay = rng.randint(3, 7), rng.uniform(0, 0.2)  # past step 2, so checkpoint-2 is complete

    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=REPO, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "run_summarization.py"), *args(tiny_model_dir, news_dir, str(out),
                                                                           method, *extra)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    logged = []
    for line in process.stdout:
        logged.append(line)
        if "'loss'" in line and sum("'loss'" in seen for seen in logged) == kill_after:
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            break
    output = "".join(logged) + process.stdout.read()
    assert process.wait(timeout=120) == -signal.SIGKILL, output[-3000:]
    assert not (out / "all_results.json").exists()
    assert checkpoints(out) and all((out / name / "trainer_state.json").is_file() for name in checkpoints(out))

    run_summarization.main(args(tiny_model_dir, news_dir, str(out), method, *extra, "--resume_from_checkpoint",
                                "true"))
    run_summarization.main(args(tiny_model_dir, news_dir, str(reference), method, *extra))
    a, b = load_file(reference / WEIGHTS[method]), load_file(out / WEIGHTS[method])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    results = [json.loads((folder / "all_results.json").read_text()) for folder in (reference, out)]
    assert results[0]["eval_loss"] == results[1]["eval_loss"]


def test_two_processes_write_one_checkpoint_with_both_rng_states(tmp_path, tiny_model_dir, news_dir):
    out = tmp_path / "out"
    argv = args(tiny_model_dir, news_dir, str(out), "lora", "--num_train_epochs", "1", "--max_train_samples", "8",
                "--per_device_train_batch_size", "2", "--save_strategy", "steps", "--save_steps", "1",
                "--eval_strategy", "steps", "--eval_steps", "1", "--disable_tqdm", "true",
                "--use_cpu", "true")  # without it, CPU processes under torchrun each train alone (world size 1)
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           os.path.join(REPO, "run_summarization.py"), *argv],
                          env=env, capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    # 8 examples, 2 processes x batches of 2: 2 steps, a checkpoint after each (limit 3 keeps both).
    assert checkpoints(out) == ["checkpoint-1", "checkpoint-2"] and (out / "all_results.json").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith("tmp-")]
    for name in checkpoints(out):
        assert {"rng_state_0.pth", "rng_state_1.pth", "trainer_state.json", "adapter_model.safetensors"} <= set(
            os.listdir(out / name))


def test_overwrite_output_dir_removes_leftovers_that_would_pass_for_this_run(tmp_path):
    for name in ("checkpoint-9", "tmp-checkpoint-12"):
        (tmp_path / name).mkdir()
    for name in ("all_results.json", "train_results.json", "eval_results.json", "README.md"):
        (tmp_path / name).write_text("{}")
    run_summarization.check_output_dir(SimpleNamespace(output_dir=str(tmp_path), overwrite_output_dir=True,
                                                       should_save=True))
    # A stale train_results.json would make --resume_from_checkpoint true skip this run's training.
    assert sorted(os.listdir(tmp_path)) == ["README.md"]
