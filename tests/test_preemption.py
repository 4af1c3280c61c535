"""SIGTERM during training: a checkpoint at the end of the step, a line saying how to resume, a non-zero
exit, no results file (the run is unfinished); resuming from it finishes the run."""

import json
import os
import signal
import subprocess
import sys

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
