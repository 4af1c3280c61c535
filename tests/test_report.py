"""reporting.report: the table matches the runs' all_results.json, failed runs stay visible, plots are real
PNGs. Fake run folders only, no training."""

from __future__ import annotations

import json
import math
import os
import re

import matplotlib.image
import numpy as np
import pytest

from reporting import plots
from reporting.plots import plot_frontier, plot_loss_curves
from reporting.report import build_report, main

from .conftest import RUN_METHODS

TEST_SAMPLES = 11490
COMPUTE_SHARE = 0.7
TOTAL = 124_439_808

# (method, trainable params, train seconds, tokens/s, accel MB, eval loss, test loss, R1, R2, RL, RLsum, gen len)
RUNS = {
    "prompt": ("prompt", 15_360, 5412.3, 10_850.0, 6_210.0, 3.412, 3.431, .2953, .0981, .1902, .2684, 61.2),
    "lora": ("lora", 811_008, 6103.9, 9_620.0, 7_480.0, 3.021, 3.037, .3312, .1243, .2231, .3024, 58.7),
    "head": ("head", 38_597_376, 3990.2, 14_210.0, 5_930.0, 3.288, 3.301, .3001, .1012, .1987, .2745, 66.0),
    "full": ("full", TOTAL, 9812.7, 6_030.0, 14_020.5, 2.905, 2.921, .3401, .1311, .2290, .3108, 57.4),
    "zero-shot": ("zero-shot", 0, None, None, None, 3.955, 3.972, .2201, .0512, .1480, .1990, 98.3),
    "lead-3": ("lead-3", 0, None, None, None, None, None, .4012, .1751, .2489, .3632, 84.9),
}


def rouge_entries(prefix: str, name: str, value: float, width: float = 0.004) -> dict:
    return {f"{prefix}_{name}": value, f"{prefix}_{name}_ci_low": value - width,
            f"{prefix}_{name}_ci_high": value + width * 1.1, f"{prefix}_{name}_precision": value * 0.9,
            f"{prefix}_{name}_recall": value * 1.15}


def fake_results(key: str) -> dict:
    method, trainable, runtime, tps, accel, eval_loss, test_loss, r1, r2, rl, rlsum, gen_len = RUNS[key]
    results = {"method": method, "base_model": "gpt2", "trainable_params": trainable,
               "total_params": TOTAL if method != "lead-3" else 0,
               "trainable_percent": 100 * trainable / TOTAL, "predict_loss": test_loss,
               "predict_gen_len": gen_len, "predict_samples": TEST_SAMPLES}
    for name, value in (("rouge1", r1), ("rouge2", r2), ("rougeL", rl), ("rougeLsum", rlsum)):
        results.update(rouge_entries("predict", name, value))
        results.update(rouge_entries("eval", name, value + 0.003, width=0.01))
    if eval_loss is not None:
        results["eval_loss"] = eval_loss
    if runtime is not None:
        # the compute time leaves out the evaluations during training, so it is well below the wall time
        results.update({"train_runtime": runtime, "train_seconds_excluding_eval": COMPUTE_SHARE * runtime,
                        "train_tokens_per_second": tps,
                        "train_peak_accelerator_memory_mb": accel, "train_peak_host_memory_mb": 3_104.6,
                        "train_samples": 287_113})
    if method == "lead-3":  # what baselines/lead_3.py writes: no training keys, null test loss
        del results["base_model"]
    return results


def fake_log_history(final_loss: float, start_loss: float, epochs: int = 3, steps_per_epoch: int = 40) -> list:
    history, rng = [], np.random.default_rng(len(str(final_loss)))
    for step in range(5, epochs * steps_per_epoch + 1, 5):
        epoch = step / steps_per_epoch
        loss = final_loss + (start_loss - final_loss) * math.exp(-2.0 * epoch) + rng.normal(0, 0.04)
        history.append({"epoch": epoch, "step": step, "loss": round(loss, 4), "learning_rate": 1e-4,
                        "grad_norm": 1.3, "tokens_per_second": 9000.0})
        if step % steps_per_epoch == 0:
            history.append({"epoch": epoch, "step": step, "eval_loss": final_loss + 0.05 + 0.3 / epoch,
                            "eval_rougeLsum": 0.25 + 0.01 * epoch})
    history.append({"epoch": float(epochs), "step": epochs * steps_per_epoch, "train_loss": final_loss + 0.2,
                    "train_runtime": 100.0})
    return history


def write_run(folder, key: str, results: dict | None = None, with_state: bool | None = None) -> str:
    os.makedirs(folder, exist_ok=True)
    results = fake_results(key) if results is None else results
    with open(os.path.join(folder, "all_results.json"), "w") as handle:
        json.dump(results, handle, indent=4)
    trained = RUNS[key][2] is not None if with_state is None else with_state
    if trained:
        final = RUNS[key][5] - 0.1
        with open(os.path.join(folder, "trainer_state.json"), "w") as handle:
            json.dump({"global_step": 120, "log_history": fake_log_history(final, final + 3.0)}, handle)
    return str(folder)


@pytest.fixture
def runs_root(tmp_path):
    """A parent folder with the six finished runs plus a failed one (error.txt) and an empty one."""
    root = tmp_path / "runs"
    for key in RUNS:
        write_run(root / key, key)
    failed = root / "lora-r64"
    failed.mkdir()
    (failed / "error.txt").write_text("\ntorch.OutOfMemoryError: CUDA out of memory | tried 2.00 GiB\nTraceback...\n")
    (root / "full-bf16").mkdir()
    return root


def parse_table(markdown: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Header cells and {method cell: {column: cell}} from the runs table of REPORT.md (the first table; the paired
    tests' tables follow it)."""
    all_lines = markdown.splitlines()
    start = next(i for i, line in enumerate(all_lines) if line.startswith("| method |"))
    lines = []
    for line in all_lines[start:]:
        if not line.startswith("|"):
            break
        lines.append(line)
    split = lambda line: [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]]  # noqa: E731
    header = split(lines[0])
    assert all(set(cell) <= set(":-") for cell in split(lines[1]))
    rows = {}
    for line in lines[2:]:
        cells = split(line)
        assert len(cells) == len(header), line
        rows[cells[0]] = dict(zip(header, cells))
    return header, rows


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def rouge_cell(cell: str) -> tuple[float, float, float]:
    match = re.fullmatch(r"(\d+\.\d) \((\d+\.\d)–(\d+\.\d)\)", cell)
    assert match, cell
    return tuple(float(group) for group in match.groups())


def seconds(cell: str) -> float:
    if cell.endswith(" s") and "min" not in cell:
        return float(cell[:-2])
    match = re.fullmatch(r"(\d+) min (\d+) s", cell) or re.fullmatch(r"(\d+) h (\d+) min", cell)
    assert match, cell
    scale = 60 if "h" not in cell else 3600
    return int(match.group(1)) * scale + int(match.group(2)) * scale / 60


def test_table_matches_all_results(runs_root, tmp_path):
    path = build_report([str(runs_root)], str(tmp_path / "report"))
    assert path == str(tmp_path / "report" / "REPORT.md")
    text = open(path, encoding="utf-8").read()
    header, rows = parse_table(text)
    assert header == ["method", "trainable params", "trainable %", "lr", "seeds", "train compute time", "tokens/s",
                      "train wall time", "peak accel. MB", "peak host MB", "saved size", "s / summary", "articles cut", "eval loss",
                      "test loss", "ROUGE-1",
                      "ROUGE-2", "ROUGE-L", "ROUGE-Lsum", "gen len", "forgetting"]
    assert text.count("| method |") == 1
    names = list(rows)
    assert names[:6] == ["lead-3 (baseline)", "zero-shot (baseline)", "prompt", "lora", "head", "full"]
    assert all("failed" in name for name in names[6:]) and len(names) == 8
    assert "base model: `gpt2`" in text and f"test samples: {TEST_SAMPLES:,}" in text

    for key in ("prompt", "lora", "head", "full", "zero-shot", "lead-3"):
        results = json.load(open(runs_root / key / "all_results.json"))
        row = rows[key + (" (baseline)" if key in ("zero-shot", "lead-3") else "")]
        assert row["trainable params"] == f"{results['trainable_params']:,}"
        assert number(row["trainable %"]) == pytest.approx(results["trainable_percent"], rel=5e-3, abs=1e-12)
        for column, name in (("ROUGE-1", "rouge1"), ("ROUGE-2", "rouge2"), ("ROUGE-L", "rougeL"),
                             ("ROUGE-Lsum", "rougeLsum")):
            value, low, high = rouge_cell(row[column])
            assert value == round(100 * results[f"predict_{name}"], 1)
            assert low == round(100 * results[f"predict_{name}_ci_low"], 1)
            assert high == round(100 * results[f"predict_{name}_ci_high"], 1)
            assert low <= value <= high
        assert number(row["gen len"]) == pytest.approx(results["predict_gen_len"], abs=0.051)  # one decimal
        if key == "lead-3":
            continue
        assert number(row["eval loss"]) == pytest.approx(results["eval_loss"], abs=5e-4)
        assert number(row["test loss"]) == pytest.approx(results["predict_loss"], abs=5e-4)
        if key == "zero-shot":
            continue
        assert seconds(row["train compute time"]) == pytest.approx(results["train_seconds_excluding_eval"], abs=61)
        assert seconds(row["train wall time"]) == pytest.approx(results["train_runtime"], abs=61)
        assert number(row["tokens/s"]) == pytest.approx(results["train_tokens_per_second"], abs=0.5)
        assert number(row["peak accel. MB"]) == pytest.approx(results["train_peak_accelerator_memory_mb"], abs=0.5)
        assert number(row["peak host MB"]) == pytest.approx(results["train_peak_host_memory_mb"], abs=0.5)
    assert rows["full"]["trainable %"] == "100"
    assert rows["full"]["peak accel. MB"] == "14,020"  # 14,020.5 rounds half to even
    assert rows["prompt"]["trainable %"] == "0.0123"


def test_short_durations_and_explanations(tmp_path):
    results = fake_results("lora")
    results.update({"train_runtime": 42.07, "train_seconds_excluding_eval": 30.04})
    run = write_run(tmp_path / "lora", "lora", results)
    text = open(build_report([run], str(tmp_path / "out")), encoding="utf-8").read()
    row = parse_table(text)[1]["lora"]
    assert (row["train compute time"], row["train wall time"]) == ("30.0 s", "42.1 s")
    assert "ROUGE-Lsum" in text and "bootstrap" in text and "non-padding" in text
    assert "**train compute time**" in text and "**train wall time**" in text and "`train_runtime`" in text
    assert "## How to read this" in text
    for image in ("loss_curves.png", "rouge.png", "frontier.png"):
        assert f"]({image})" in text  # relative link, resolves next to REPORT.md


def test_failed_runs_are_rows(runs_root, tmp_path):
    text = open(build_report([str(runs_root)], str(tmp_path / "out")), encoding="utf-8").read()
    rows = parse_table(text)[1]
    failed = [name for name in rows if "failed" in name]
    assert failed == ["full-bf16 **failed**: no all_results.json",
                      "lora-r64 **failed**: torch.OutOfMemoryError: CUDA out of memory | tried 2.00 GiB"]
    assert all(cell == "n/a" for name in failed for column, cell in rows[name].items() if column != "method")
    assert "7 trained" not in text and "8 runs (4 trained, 2 baselines, 2 failed)" in text


def test_explicit_run_folders_and_missing_folder(runs_root, tmp_path):
    dirs = [str(runs_root / "lora"), str(runs_root / "lead-3"), str(tmp_path / "never-ran")]
    rows = parse_table(open(build_report(dirs, str(tmp_path / "out")), encoding="utf-8").read())[1]
    assert list(rows) == ["lead-3 (baseline)", "lora", "never-ran **failed**: folder not found"]


def test_report_inside_parent_is_not_a_run(runs_root):
    out = runs_root / "report"
    build_report([str(runs_root)], str(out))
    rows = parse_table((out / "REPORT.md").read_text(encoding="utf-8"))[1]
    assert len(rows) == 8 and not any(name.startswith("report") for name in rows)


def test_missing_and_null_keys_read_na(tmp_path):
    lead = fake_results("lead-3")  # no train_* keys, predict_loss None, no eval_loss, no base_model
    sparse = {"method": "lora", "trainable_params": None, "predict_rouge1": 0.31, "train_runtime": float("nan"),
              "train_peak_accelerator_memory_mb": None}
    dirs = [write_run(tmp_path / "lead-3", "lead-3", lead), write_run(tmp_path / "lora", "lora", sparse, False),
            write_run(tmp_path / "empty", "head", {}, False)]
    text = open(build_report(dirs, str(tmp_path / "out")), encoding="utf-8").read()
    rows = parse_table(text)[1]
    assert rows["lead-3 (baseline)"]["trainable params"] == "0"
    for column in ("train compute time", "train wall time", "tokens/s", "peak accel. MB", "peak host MB",
                   "eval loss", "test loss"):
        assert rows["lead-3 (baseline)"][column] == "n/a"
    assert rows["lora"]["ROUGE-1"] == "31.0"  # no interval known: the value alone
    assert all(rows["lora"][c] == "n/a" for c in ("trainable params", "train compute time", "train wall time",
                                                  "ROUGE-2", "gen len"))
    assert all(cell == "n/a" for column, cell in rows["empty"].items() if column != "method")
    for image in ("loss_curves.png", "rouge.png", "frontier.png"):
        assert (tmp_path / "out" / image).stat().st_size > 5_000


def test_plots_are_real_pngs(runs_root, tmp_path):
    out = tmp_path / "out"
    build_report([str(runs_root)], str(out))
    for image in ("loss_curves.png", "rouge.png", "frontier.png"):
        path = out / image
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 20_000, image
        pixels = matplotlib.image.imread(str(path))
        assert pixels.ndim == 3 and pixels.shape[0] >= 500 and pixels.shape[1] >= 800, pixels.shape
        assert pixels[..., :3].std() > 0.05, image
        colourful = np.ptp(pixels[..., :3], axis=2) > 0.3  # saturated pixels: the data drawn in colour
        assert colourful.mean() > 0.002, image


def test_frontier_time_panel_plots_compute_time(tmp_path, monkeypatch):
    """Panel (b)'s x is each run's train compute time; a run without one is left out of that panel (its wall
    time is no stand-in) and stays in panel (a)."""
    figures = []
    monkeypatch.setattr(plots.plt, "close", figures.append)  # keep the figure to read what was drawn
    trained = ("prompt", "lora", "head", "full")
    points = [dict(fake_results(key), label=key) for key in trained]
    del points[1]["train_seconds_excluding_eval"]  # e.g. a run written before it was recorded
    baselines = [dict(fake_results("lead-3"), label="lead-3")]
    plot_frontier(points, baselines, str(tmp_path / "frontier.png"))
    (figure,) = figures
    left, right = figure.axes

    def drawn_x(axis) -> list[float]:  # the errorbar markers; baselines are marker-less horizontal lines
        return sorted(x for line in axis.lines if line.get_marker() == "o" for x in line.get_xdata())

    assert drawn_x(left) == sorted(RUNS[key][1] for key in trained)
    assert drawn_x(right) == pytest.approx(sorted(COMPUTE_SHARE * RUNS[key][2] for key in ("prompt", "head", "full")))
    assert "compute time" in right.get_xlabel() and "compute time" in right.get_title()
    plots.plt.close(figure)


def test_plot_loss_curves_keeps_single_run_call(tmp_path):
    path = plot_loss_curves({"lora": fake_log_history(3.0, 6.0)}, str(tmp_path / "loss.png"))
    assert path == str(tmp_path / "loss.png") and os.path.getsize(path) > 20_000


def test_main_end_to_end(runs_root, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main([str(runs_root / name) for name in RUNS] + ["--output_dir", str(out), "--title", "My runs"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(out / "REPORT.md")
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    assert text.startswith("# My runs\n") and len(parse_table(text)[1]) == 6


def test_help_describes_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "RUN_DIR" in out and "--output_dir" in out and "--title" in out and "REPORT.md" in out


def test_report_on_real_runs_matches_their_results(runs, zero_shot_run, tmp_path):
    """The same check on run folders written by run_summarization.py itself (shared session fixture): every cell is
    the run's own all_results.json value, and the learning runs' ROUGE cells are well above zero."""
    import torch

    path = build_report([zero_shot_run, *runs.values()], str(tmp_path / "report"))
    _, rows = parse_table(open(path, encoding="utf-8").read())
    assert list(rows) == ["zero-shot (baseline)", *RUN_METHODS]  # the registry's order
    for method, folder in {"zero-shot": zero_shot_run, **runs}.items():
        results = json.load(open(os.path.join(folder, "all_results.json")))
        row = rows[method + (" (baseline)" if method == "zero-shot" else "")]
        assert row["trainable params"] == f"{results['trainable_params']:,}"
        assert number(row["test loss"]) == pytest.approx(results["predict_loss"], abs=5e-4)
        assert number(row["gen len"]) == pytest.approx(results["predict_gen_len"], abs=0.051)  # one decimal
        for column, name in (("ROUGE-1", "rouge1"), ("ROUGE-2", "rouge2"), ("ROUGE-L", "rougeL"),
                             ("ROUGE-Lsum", "rougeLsum")):
            value, low, high = rouge_cell(row[column])
            assert (value, low, high) == tuple(round(100 * results[f"predict_{name}{suffix}"], 1)
                                               for suffix in ("", "_ci_low", "_ci_high"))
        if method == "zero-shot":
            assert all(row[column] == "n/a" for column in ("eval loss", "tokens/s", "train compute time",
                                                           "train wall time", "peak accel. MB", "peak host MB"))
            continue
        assert rouge_cell(row["ROUGE-L"])[0] >= 3.0 and rouge_cell(row["ROUGE-1"])[0] >= 3.0  # not 0.0
        assert number(row["trainable %"]) == pytest.approx(results["trainable_percent"], rel=5e-3)
        assert number(row["eval loss"]) == pytest.approx(results["eval_loss"], abs=5e-4)
        assert number(row["tokens/s"]) == pytest.approx(results["train_tokens_per_second"], abs=0.5)
        assert seconds(row["train compute time"]) == pytest.approx(results["train_seconds_excluding_eval"], abs=0.5)
        assert seconds(row["train wall time"]) == pytest.approx(results["train_runtime"], abs=0.5)
        assert number(row["peak host MB"]) == pytest.approx(results["train_peak_host_memory_mb"], abs=0.5)
        if torch.cuda.is_available():  # measured on the GPU, in MB
            assert number(row["peak accel. MB"]) == pytest.approx(results["train_peak_accelerator_memory_mb"], abs=0.5)
            assert number(row["peak accel. MB"]) > 0
        else:  # no accelerator: the run records null, the table says so
            assert results["train_peak_accelerator_memory_mb"] is None and row["peak accel. MB"] == "n/a"
    # The full fine-tuning's ROUGE-L clears the untuned base's, cell for cell.
    assert rouge_cell(rows["full"]["ROUGE-L"])[0] > rouge_cell(rows["zero-shot (baseline)"]["ROUGE-L"])[0] + 5


def write_predictions(folder, rows: list[tuple[str, str, str]]) -> None:
    with open(os.path.join(folder, "generated_predictions.jsonl"), "w", encoding="utf-8") as handle:
        for example_id, reference, prediction in rows:
            handle.write(json.dumps({"id": example_id, "reference": reference, "prediction": prediction}) + "\n")


def test_setup_size_on_disk_examples_and_a_computed_reading(tmp_path):
    """What a user asks of a comparison: how it was run, what each saved costs, what the summaries look like, and
    which method to pick for this budget, each sentence from the numbers."""
    references = [f"The council approved plan {i} for the new bridge." for i in range(12)]
    predictions = {
        "lead-3": [f"Officials met on Monday about item {i}." for i in range(12)],
        "lora": [f"The council approved plan {i} for a bridge." for i in range(12)],
        "full": [f"The council approved plan {i} for the new bridge today." for i in range(12)],
    }
    folders = {}
    for key, scores in (("lead-3", 0.20), ("lora", 0.60), ("full", 0.61)):
        results = fake_results(key)
        results.update({"predict_rougeLsum": scores, "predict_samples": 12})
        if key != "lead-3":
            results.update({"predict_seconds_per_summary": 0.25 if key == "lora" else 0.5, "precision": "fp32",
                            "predict_articles_cut": 3 if key == "lora" else 0, "predict_generated_samples": 12,
                            "forgetting": 0.01 if key == "lora" else 0.2})
        folder = write_run(tmp_path / "runs" / key, key, results, with_state=False)
        write_predictions(folder, [(f"t{i}", references[i], predictions[key][i]) for i in range(12)])
        command = ["run_summarization.py", "--max_length", "256", "--num_train_epochs", "1"] if key != "lead-3" \
            else ["python -m baselines.lead"]
        device = {"cpu": "EPYC", "cpu_count": 2}
        with open(os.path.join(folder, "provenance.json"), "w") as handle:
            json.dump({"command": command, "device": device}, handle)
        folders[key] = folder
    with open(os.path.join(folders["lora"], "adapter_model.safetensors"), "wb") as handle:
        handle.write(b"\0" * 2_300_000)
    with open(os.path.join(folders["lora"], "adapter_config.json"), "w") as handle:
        handle.write("{}" + " " * 998)
    os.makedirs(os.path.join(folders["lora"], "checkpoint-5"))  # never counted: not what the run saved
    with open(os.path.join(folders["lora"], "checkpoint-5", "adapter_model.safetensors"), "wb") as handle:
        handle.write(b"\0" * 5_000_000)
    with open(os.path.join(folders["full"], "model.safetensors"), "wb") as handle:
        handle.write(b"\0" * 50_000_000)

    text = open(build_report(list(folders.values()), str(tmp_path / "report")), encoding="utf-8").read()
    rows = parse_table(text)[1]
    assert (rows["lora"]["saved size"], rows["full"]["saved size"], rows["lead-3 (baseline)"]["saved size"]) == (
        "2.3 MB", "50.0 MB", "n/a")  # a baseline saves nothing to reuse
    assert (rows["lora"]["s / summary"], rows["full"]["s / summary"], rows["lead-3 (baseline)"]["s / summary"]) == (
        "0.25", "0.50", "n/a")
    assert [rows[key]["articles cut"] for key in ("lora", "full", "lead-3 (baseline)")] == ["3 / 12", "0 / 12", "n/a"]
    assert "Every row it applies to: training articles 287,113, max length 256, epochs 1, device CPU (2 cores), " \
           "precision fp32." in text and "the same 12 test articles" in text
    reading = text.split("## Reading")[1].split("##")[0]
    assert "Best test ROUGE-Lsum: **full** (61.0)." in reading
    lsum = {key: 100 * json.load(open(os.path.join(folders[key], "all_results.json")))["predict_rougeLsum"]
            for key in folders}
    assert f"The best baseline is lead-3 ({lsum['lead-3']:.1f}); full {lsum['full'] - lsum['lead-3']:+.1f}, " \
           f"lora {lsum['lora'] - lsum['lead-3']:+.1f} points against it (all 2 methods above it)." in reading
    assert "Most forgetting of general text: full (+0.200 nats" in reading
    tied = "lora" in reading.split("Not distinguishable from it by the paired test:")[1].split(".")[0] \
        if "Not distinguishable" in reading else False
    cheapest = "lora" if tied else "full"
    assert f"For this budget, **{cheapest}** is the cheapest method as good as the best" in reading
    examples = text.split("## Examples")[1]
    assert "**t0**. Reference: The council approved plan 0 for the new bridge." in examples
    assert "- lora: The council approved plan 1 for a bridge." in examples and "**t2**" not in examples
    assert "Training loss (trained methods; solid: training; no run logged a validation loss" in text
