"""Two CPU processes (gloo) evaluate every test example exactly once, write files once, and score the same
as one process; trained with the same global batch, they end with the weights and losses of one process."""

import contextlib
import json
import os
import subprocess
import sys

import psutil
import pytest
import torch
from safetensors.torch import load_file

import run_summarization

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One thread per process, in the torchrun workers and in the one-process reference alike: the number of
# threads decides how a matmul splits its sums, so a reference on another thread count could differ in the
# last bits for that reason alone (and a greedy summary flip on a near tie).
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def launch_env() -> dict:
    return dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=REPO, PYTHONUNBUFFERED="1", **THREADS)


@contextlib.contextmanager
def pinned_threads():
    """THREADS for a reference run inside this process, where the variables were read at start-up:
    `torch.set_num_threads` sets the OpenMP and MKL pools they size."""
    before = torch.get_num_threads()
    torch.set_num_threads(int(THREADS["OMP_NUM_THREADS"]))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def torchrun(script, argv, cwd, nproc=2, timeout=300):
    """`torchrun --nproc_per_node nproc script argv`: (exit code, stdout and stderr). A rank left waiting in a
    collective would hang the suite (gloo gives up after 30 minutes), so past `timeout` the launcher and its
    workers are killed and the test fails."""
    process = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), str(script), *argv],
        env=launch_env(), cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # Each worker runs in a session of its own (killing the launcher's group would miss them): the whole
        # tree.
        launcher = psutil.Process(process.pid)
        for worker in [*launcher.children(recursive=True), launcher]:
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()
        output, _ = process.communicate()
        pytest.fail(f"torchrun still running after {timeout} s:\n{output[-3000:]}")
    return process.returncode, output


def read(folder):
    with open(os.path.join(folder, "generated_predictions.jsonl")) as handle:
        predictions = [json.loads(line) for line in handle]
    with open(os.path.join(folder, "all_results.json")) as handle:
        return predictions, json.load(handle)


def test_two_process_prediction_is_complete_unique_and_equal_to_one_process(tmp_path, tiny_model_dir, news_dir):
    args = ["--method", "zero-shot", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir,
            "--do_predict", "--do_eval", "--predict_with_generate", "--generation_num_beams", "1",
            "--generation_max_new_tokens", "12", "--max_length", "256", "--max_predict_samples", "7",
            "--max_eval_samples", "5", "--per_device_eval_batch_size", "2", "--eval_generate_samples", "5",
            "--disable_tqdm", "true",
            "--use_cpu", "true"]  # without it, CPU processes under torchrun each run alone (world size 1)
    code, output = torchrun(os.path.join(REPO, "run_summarization.py"),
                            [*args, "--output_dir", str(tmp_path / "two")], tmp_path)
    assert code == 0, output[-3000:]
    with pinned_threads():
        run_summarization.main([*args, "--output_dir", str(tmp_path / "one")])

    two, two_results = read(tmp_path / "two")
    one, one_results = read(tmp_path / "one")
    # 7 examples over 2 processes x batches of 2: the padding of the last batch must not leak in.
    assert len(two) == len({row["id"] for row in two}) == 7
    assert two == one
    assert two_results["predict_samples"] == two_results["predict_generated_samples"] == 7
    for key in ("predict_rouge1", "predict_rougeLsum", "predict_gen_len", "eval_rouge1"):
        assert two_results[key] == pytest.approx(one_results[key], abs=1e-9)
    # The loss is summed per example and gathered like the predictions: the example repeated to pad the last
    # batch of one process is dropped (Trainer's mean of batch means differed by 0.4% here).
    assert two_results["predict_loss"] == pytest.approx(one_results["predict_loss"], rel=1e-5)


def checkpoints(out):
    return sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint-"))


def logged(out, key):
    state = json.loads((out / "trainer_state.json").read_text())
    return [(entry["step"], entry[key]) for entry in state["log_history"] if key in entry]


def test_two_process_training_equals_one_process_and_writes_each_checkpoint_once(tmp_path, tiny_model_dir,
                                                                                 news_dir):
    # 16 examples, 2 epochs, a global batch of 8 (2 processes x 4, or 1 x 8): 4 steps, an evaluation and a
    # checkpoint per epoch. No dropout anywhere (the base model has none): each process would draw its own
    # masks.
    def train_args(out, batch):
        return ["--method", "lora", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir,
                "--output_dir", str(out), "--do_train", "--num_train_epochs", "2",
                "--max_train_samples", "16",
                "--per_device_train_batch_size", str(batch), "--max_eval_samples", "4", "--max_length", "192",
                "--learning_rate", "1e-2", "--lora_r", "2", "--lora_dropout", "0", "--seed", "3",
                "--logging_steps", "1", "--save_total_limit", "3", "--load_best_model_at_end", "false",
                "--predict_with_generate", "false", "--disable_tqdm", "true"]

    two, one = tmp_path / "two", tmp_path / "one"
    code, output = torchrun(os.path.join(REPO, "run_summarization.py"),
                            [*train_args(two, 4), "--use_cpu", "true"], tmp_path)
    assert code == 0, output[-3000:]
    with pinned_threads():
        run_summarization.main(train_args(one, 8))

    # Each checkpoint is written once, whole, with every process's RNG state in it.
    assert checkpoints(two) == checkpoints(one) == ["checkpoint-2", "checkpoint-4"]
    assert not [p for p in two.iterdir() if p.name.startswith("tmp-")]
    assert (two / "all_results.json").is_file()
    for name in checkpoints(two):
        assert {"rng_state_0.pth", "rng_state_1.pth", "trainer_state.json",
                "adapter_model.safetensors"} <= set(os.listdir(two / name))

    # The same examples in each step, the gradient averaged over the global batch's tokens, not over
    # processes: only the summation order differs. Training moved the weights by far more than the tolerance.
    a, b = load_file(two / "adapter_model.safetensors"), load_file(one / "adapter_model.safetensors")
    first = load_file(one / "checkpoint-2" / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-5, msg=name)
    assert max((b[name] - first[name]).abs().max().item() for name in b) > 1e-3
    for key in ("loss", "eval_loss"):
        (steps_two, values_two), (steps_one, values_one) = zip(*logged(two, key)), zip(*logged(one, key))
        assert steps_two == steps_one and values_two == pytest.approx(values_one, rel=1e-5), key
    results = [json.loads((out / "all_results.json").read_text()) for out in (two, one)]
    assert results[0]["train_loss"] == pytest.approx(results[1]["train_loss"], rel=1e-5)
    assert results[0]["eval_loss"] == pytest.approx(results[1]["eval_loss"], rel=1e-5)
