"""The GPU check: one command for a machine with a CUDA GPU and no network (`make gpu-check`, or
`bash tools/gpu_check.sh OUT` with the pinned pure-Python wheels beside the machine's own torch).

    python -m tools.gpu_check --out gpu_check_output                      # every phase
    python -m tools.gpu_check --out OUT --phases tests,benchmark          # some of them

Phases, each writing its files under --out as soon as it has them (a run stopped early keeps what finished):
- tests: the GPU-only tests (`pytest -m gpu`): bf16 training, evaluation and generation on CUDA, no host-device
  synchronisation inside a training step;
- benchmark: `benchmarks.benchmark --preset gpt2-small` (GPT-2 small, batch 32 x 512, every method) and
  `--preset smollm2-gpu` (SmolLM2-135M's shape, LoRA and full), each method's result written as it finishes;
- demo: `python -m comparison` (BBC News, SmolLM2-135M-Instruct) at its GPU sizes, timed;
- then one summary table (gpu_check.md): training tokens/s, step time and memory per benchmarked method, the
  demo's wall time, and per row of the demo its ROUGE-L with its 95% interval, training tokens/s and peak memory.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time

from core import one_line_errors

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHASES = ("tests", "benchmark", "demo")
BENCHMARK_PRESETS = ("gpt2-small", "smollm2-gpu")
CLOSING_LINE = re.compile(r"\d+ (passed|failed|skipped|deselected|errors?)\b.* in [\d.]+s")


def run_logged(command: list[str], log_path: str, timeout: float | None = None) -> tuple[int, float]:
    """Run `command` from the repository root, its output passed through and kept in `log_path`."""
    started = time.perf_counter()
    print(f"[gpu-check] {' '.join(command)}", flush=True)
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        try:
            for line in process.stdout:
                print(line, end="", flush=True)
                log.write(line)
                log.flush()
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            code = -9
    return code, time.perf_counter() - started


def phase_tests(out: str) -> dict:
    code, seconds = run_logged([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-rA", "-p", "no:cacheprovider"],
                               os.path.join(out, "gpu_tests.log"))
    with open(os.path.join(out, "gpu_tests.log"), encoding="utf-8") as handle:
        closing = [line.strip() for line in handle if CLOSING_LINE.search(line)]
    return {"exit_code": code, "seconds": seconds, "result": closing[-1] if closing else "no result line"}


def phase_benchmark(out: str) -> dict:
    results = {}
    for preset in BENCHMARK_PRESETS:
        output = os.path.join(out, f"benchmark-{preset}.json")
        code, seconds = run_logged([sys.executable, "-m", "benchmarks.benchmark", "--preset", preset, "--output",
                                    output, "--overwrite"], os.path.join(out, f"benchmark-{preset}.log"))
        results[preset] = {"exit_code": code, "seconds": seconds, "output": output}
    return results


def phase_demo(out: str, demo_dir: str, extra: list[str]) -> dict:
    code, seconds = run_logged([sys.executable, "-m", "comparison", "--output_dir", demo_dir, *extra],
                               os.path.join(out, "demo.log"))
    report = os.path.join(demo_dir, "report", "REPORT.md")
    if os.path.isfile(report):  # the report itself comes back with the check's files
        with open(report, encoding="utf-8") as source, open(os.path.join(out, "REPORT.md"), "w") as copy:
            copy.write(source.read())
    return {"exit_code": code, "seconds": seconds, "demo_dir": demo_dir}


# ---------------------------------------------------------------- the summary


def number(value, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def benchmark_rows(path: str) -> list[str]:
    if not os.path.isfile(path):
        return [f"| {os.path.basename(path)}: not written | | | | |"]
    with open(path) as handle:
        report = json.load(handle)
    rows = []
    for method in report.get("methods", []):
        pipeline = method.get("pipeline", {})
        rows.append(f"| {report['preset']} | {method['method']} | {number(pipeline.get('tokens_per_s'))} | "
                    f"{number(1000 * pipeline['step_s'], 1) if 'step_s' in pipeline else 'n/a'} | "
                    f"{number(pipeline.get('peak_accelerator_mb'))} |")
    return rows


def demo_rows(demo_dir: str) -> list[str]:
    rows = []
    for results_path in sorted(glob.glob(os.path.join(demo_dir, "runs", "*", "all_results.json"))):
        with open(results_path) as handle:
            results = json.load(handle)
        name = os.path.basename(os.path.dirname(results_path))
        low, high = results.get("predict_rougeL_ci_low"), results.get("predict_rougeL_ci_high")
        interval = f" [{100 * low:.1f}-{100 * high:.1f}]" if low is not None and high is not None else ""
        rouge = results.get("predict_rougeL")
        rows.append(f"| {name} | {number(None if rouge is None else 100 * rouge, 1)}{interval} | "
                    f"{number(results.get('train_tokens_per_second'))} | "
                    f"{number(results.get('train_peak_accelerator_memory_mb'))} | "
                    f"{number(results.get('train_runtime'), 1)} |")
    failed = sorted(os.path.basename(os.path.dirname(path))
                    for path in glob.glob(os.path.join(demo_dir, "runs", "*", "error.txt")))
    rows += [f"| {name} | FAILED (see its error.txt) | | | |" for name in failed]
    return rows


def summary(out: str, status: dict, demo_dir: str) -> str:
    import torch

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
    lines = [f"# GPU check: {device}, {time.strftime('%Y-%m-%d')}", "",
             f"Command: `python -m tools.gpu_check {' '.join(sys.argv[1:])}`", ""]
    if "tests" in status:
        lines += [f"GPU-only tests: {status['tests']['result']} ({status['tests']['seconds']:.0f} s)", ""]
    if "benchmark" in status:
        lines += ["Training speed (benchmarks.benchmark; the pipeline's own SummarizationTrainer steps):", "",
                  "| preset | method | train tokens/s | step ms | peak GPU MB |", "|---|---|---|---|---|"]
        for preset in BENCHMARK_PRESETS:
            lines += benchmark_rows(status["benchmark"][preset]["output"])
        lines.append("")
    if "demo" in status:
        lines += [f"Demo (python -m comparison at its GPU sizes): {status['demo']['seconds'] / 60:.1f} min wall "
                  f"time, exit code {status['demo']['exit_code']}", "",
                  "| row | ROUGE-L [95% interval] | train tokens/s | peak GPU MB | train s |", "|---|---|---|---|---|",
                  *demo_rows(demo_dir), ""]
    text = "\n".join(lines)
    with open(os.path.join(out, "gpu_check.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = one_line_errors(argparse.ArgumentParser(prog="python -m tools.gpu_check",
                                                     description=__doc__.splitlines()[0]))
    parser.add_argument("--out", default="gpu_check_output", help="Where the logs, JSON and summary go.")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"Comma-separated, of: {', '.join(PHASES)}.")
    parser.add_argument("--demo_dir", help="The demo's output folder (default: OUT/demo_output).")
    parser.add_argument("--demo_args", default="", help="Extra flags for python -m comparison, one string.")
    args = parser.parse_args(argv)
    phases = [phase for phase in args.phases.split(",") if phase]
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        parser.error(f"--phases: unknown {', '.join(unknown)}; choose from {', '.join(PHASES)}")
    os.makedirs(args.out, exist_ok=True)
    demo_dir = args.demo_dir or os.path.join(args.out, "demo_output")
    status = {}
    if "tests" in phases:
        status["tests"] = phase_tests(args.out)
    if "benchmark" in phases:
        status["benchmark"] = phase_benchmark(args.out)
    if "demo" in phases:
        status["demo"] = phase_demo(args.out, demo_dir, args.demo_args.split())
    with open(os.path.join(args.out, "gpu_check.json"), "w") as handle:
        json.dump(status, handle, indent=2)
    print(summary(args.out, status, demo_dir), flush=True)
    return 0 if all(entry.get("exit_code", 0) == 0 for entry in flatten(status)) else 1


def flatten(status: dict) -> list[dict]:
    return [entry for value in status.values()
            for entry in (value.values() if "exit_code" not in value else [value])]


if __name__ == "__main__":
    sys.exit(main())
