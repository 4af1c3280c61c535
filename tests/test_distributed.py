"""Two CPU processes (gloo) evaluate every test example exactly once, write files once, and score the same
as one process."""

import json
import os
import subprocess
import sys

import pytest

import run_summarization

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(folder):
    with open(os.path.join(folder, "generated_predictions.jsonl")) as handle:
        predictions = [json.loads(line) for line in handle]
    with open(os.path.join(folder, "all_results.json")) as handle:
        return predictions, json.load(handle)


def test_two_process_prediction_is_complete_unique_and_equal_to_one_process(tmp_path, tiny_model_dir, news_dir):
    args = ["--method", "zero-shot", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir,
            "--do_predict", "--do_eval", "--predict_with_generate", "--generation_num_beams", "1", "--generation_max_new_tokens",
            "12", "--max_length", "256", "--max_predict_samples", "7", "--max_eval_samples", "5",
            "--per_device_eval_batch_size", "2", "--eval_generate_samples", "5", "--disable_tqdm", "true",
            "--use_cpu", "true"]  # without it, CPU processes under torchrun each run alone (world size 1)
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           os.path.join(REPO, "run_summarization.py"), *args, "--output_dir", str(tmp_path / "two")],
                          env=env, capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
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
