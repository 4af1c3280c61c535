"""The GPU check's summary table is built from the files its phases leave (checked here on hand-made ones: the
phases themselves need a GPU), and a bad --phases is refused."""

import json

import pytest

from tools import gpu_check


def write_json(path, payload):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))


def test_summary_table_reads_the_benchmark_json_and_every_demo_row(tmp_path):
    benchmark = tmp_path / "benchmark-gpt2-small.json"
    write_json(benchmark, {"preset": "gpt2-small", "methods": [
        {"method": "lora", "pipeline": {"tokens_per_s": 215000.4, "step_s": 0.0761, "peak_accelerator_mb": 9876.5}}]})
    demo = tmp_path / "demo"
    write_json(demo / "runs" / "lora" / "all_results.json", {
        "predict_rougeL": 0.2512, "predict_rougeL_ci_low": 0.2301, "predict_rougeL_ci_high": 0.2719,
        "train_tokens_per_second": 61234.2, "train_peak_accelerator_memory_mb": 4321.0, "train_runtime": 20.04})
    write_json(demo / "runs" / "lead-1" / "all_results.json", {"predict_rougeL": 0.143})
    (demo / "runs" / "full").mkdir(parents=True)
    (demo / "runs" / "full" / "error.txt").write_text("CUDA out of memory")
    status = {"tests": {"exit_code": 0, "seconds": 41.0, "result": "8 passed, 700 deselected in 40.1s"},
              "benchmark": {preset: {"exit_code": 0, "seconds": 60.0, "output": str(tmp_path / f"benchmark-{preset}.json")}
                            for preset in gpu_check.BENCHMARK_PRESETS},
              "demo": {"exit_code": 0, "seconds": 245.0, "demo_dir": str(demo)}}
    text = gpu_check.summary(str(tmp_path), status, str(demo))
    assert "GPU-only tests: 8 passed, 700 deselected in 40.1s (41 s)" in text
    assert "| gpt2-small | lora | 215,000 | 76.1 | 9,876 |" in text
    assert "| smollm2-gpu: not written" not in text and "benchmark-smollm2-gpu.json: not written" in text
    assert "4.1 min wall time, exit code 0" in text
    assert "| lora | 25.1 [23.0-27.2] | 61,234 | 4,321 | 20.0 |" in text
    assert "| lead-1 | 14.3 | n/a | n/a | n/a |" in text
    assert "| full | FAILED (see its error.txt) |" in text
    assert (tmp_path / "gpu_check.md").read_text() == text


def test_the_tests_phase_reads_pytests_closing_line(tmp_path, monkeypatch):
    def fake_run(command, log_path, timeout=None):
        with open(log_path, "w") as handle:
            handle.write("....\nFAILED tests/test_x.py::test_y\n1 failed, 7 passed, 700 deselected in 40.12s\n")
        return 1, 41.0

    monkeypatch.setattr(gpu_check, "run_logged", fake_run)
    assert gpu_check.phase_tests(str(tmp_path)) == {"exit_code": 1, "seconds": 41.0,
                                                   "result": "1 failed, 7 passed, 700 deselected in 40.12s"}


def test_an_unknown_phase_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        gpu_check.main(["--out", str(tmp_path), "--phases", "tests,benchmarks"])
    assert exit_info.value.code == 2
    assert "--phases: unknown benchmarks; choose from tests, benchmark, demo" in capsys.readouterr().err
