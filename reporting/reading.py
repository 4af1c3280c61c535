"""What the report says beyond the table: how the runs were set up, what each saved costs on disk, two summaries
per row beside the reference, and a short reading whose every sentence is computed from the runs' numbers."""

from __future__ import annotations

import glob
import os

from core import run_folder
from peft_methods import method_row

EXAMPLES = 2
# Set-up flags read back from each run's recorded command (provenance.json), with how they are shown.
SETUP_FLAGS = (("--max_length", "max length"), ("--num_train_epochs", "epochs"),
               ("--per_device_train_batch_size", "batch"), ("--generation_num_beams", "beams"),
               ("--generation_max_new_tokens", "max new tokens"))


def saved_bytes(run: dict) -> int | None:
    """Bytes of what the run saved to be reused (its row's `saved_files`: the adapter, the head, the whole model),
    never checkpoints; None for a failed run, an unknown method or a baseline (it saves nothing to reuse)."""
    row = method_row(run.get("method"))
    if run["failed"] or row is None or not row.trains or not os.path.isdir(run["run_dir"]):
        return None
    paths = {path for pattern in row.saved_files for path in glob.glob(os.path.join(glob.escape(run["run_dir"]), pattern))}
    return sum(os.path.getsize(path) for path in paths if os.path.isfile(path))


def format_size(size) -> str:
    if size is None:
        return "n/a"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _flag(command: list[str], flag: str) -> str | None:
    for index, arg in enumerate(command):
        if arg == flag and index + 1 < len(command):
            return command[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def run_setup(run: dict) -> dict[str, str]:
    """One run's set-up as shown: training articles, the recorded flags, device and precision."""
    provenance = run_folder.read_json(os.path.join(run["run_dir"], run_folder.PROVENANCE)) or {}
    command = provenance.get("command") or []
    device = provenance.get("device") or {}
    setup = {}
    if not run["baseline"] and run.get("train_samples") is not None:
        setup["training articles"] = f"{run['train_samples']:,}"
    for flag, name in SETUP_FLAGS:
        value = _flag(command, flag)
        if value is not None and (name != "epochs" and name != "batch" or not run["baseline"]):
            setup[name] = value
    if device:
        setup["device"] = device.get("gpu") or f"CPU ({device.get('cpu_count')} cores)"
    if not run["baseline"] and run.get("precision"):
        setup["precision"] = run["precision"]
    return setup


def setup_text(runs: list[dict]) -> str:
    """What every finished row shares on one line, then what differs, per row."""
    finished = [r for r in runs if not r["failed"] and r.get("run_dir")]
    setups = {r["label"]: run_setup(r) for r in finished}
    if not setups:
        return ""
    order = ["training articles", *(name for _, name in SETUP_FLAGS), "device", "precision"]
    names = [name for name in order if any(name in setup for setup in setups.values())]
    values = {name: {setup[name] for setup in setups.values() if name in setup} for name in names}
    shared = {name: next(iter(found)) for name, found in values.items() if len(found) == 1}
    lines = ["## Set-up", "", "Every row it applies to: " + ", ".join(f"{name} {value}" for name, value in
                                                                       shared.items()) + "."]
    differing = [name for name in names if name not in shared]
    for label, setup in setups.items():
        own = [f"{name} {setup[name]}" for name in differing if name in setup]
        if own:
            lines.append(f"- {label}: {', '.join(own)}")
    test_samples = {r.get("predict_samples") for r in finished}
    if len(test_samples) == 1 and None not in test_samples:
        lines.append(f"\nEvery row summarised the same {next(iter(test_samples)):,} test articles.")
    return "\n".join(lines) + "\n"


def examples_text(runs: list[dict], count: int = EXAMPLES) -> str:
    """The first `count` test articles every finished row summarised: the reference, then each row's summary."""
    predictions = {}
    for run in runs:
        if run["failed"]:
            continue
        try:
            predictions[run["label"]] = {row["id"]: row for row in run_folder.read_predictions(run["run_dir"])}
        except Exception:  # a run without predictions has no examples to show; the table already says so
            continue
    if not predictions:
        return ""
    first = next(iter(predictions.values()))
    shared = [key for key in first if all(key in rows for rows in predictions.values())][:count]
    unsupported = {run["label"]: run.get("unsupported_entities") or {} for run in runs}
    marked = any(unsupported.values())
    parts = ["## Examples", "", f"The first {len(shared)} test articles every row summarised (the article itself is "
                                "in the test split under its id)." + (" ~~Struck through~~: a named entity that is "
                                                                     "not in the article." if marked else "")]
    for example_id in shared:
        parts += ["", f"**{example_id}**. Reference: {first[example_id]['reference']}", ""]
        parts += [f"- {label}: {mark(rows[example_id]['prediction'], unsupported[label].get(example_id, ()))}"
                  for label, rows in predictions.items()]
    return "\n".join(parts) + "\n"


def mark(text: str, entities) -> str:
    """The summary on one line, each entity of `entities` (as written) struck through where it first occurs."""
    text = " ".join(text.split())
    for entity in dict.fromkeys(entities):
        text = text.replace(entity, f"~~{entity}~~", 1)
    return text or "(empty)"


def _lsum(run: dict) -> float | None:
    value = run.get("predict_rougeLsum")
    return value if isinstance(value, (int, float)) else None


def reading_text(runs: list[dict]) -> str:
    """Sentences computed from the table: the best row, the cheapest method that is as good, how far each method
    is from the best baseline, and the most forgetting."""
    scored = [r for r in runs if not r["failed"] and _lsum(r) is not None]
    methods = [r for r in scored if not r["baseline"]]
    baselines = [r for r in scored if r["baseline"]]
    if not scored:
        return ""
    best = max(scored, key=_lsum)
    sentences = [f"Best test ROUGE-Lsum: **{best['label']}** ({100 * _lsum(best):.1f})."]
    tied = [r for r in scored if r.get("tied_with_best") and r is not best]
    if tied:
        sentences.append("Not distinguishable from it by the paired test: " +
                         ", ".join(f"{r['label']} ({100 * _lsum(r):.1f})" for r in tied) + ".")
    as_good = [r for r in methods if r is best or r.get("tied_with_best")]
    if as_good:
        cheapest = min(as_good, key=lambda r: (r.get("trainable_params") or 0, saved_bytes(r) or 0))
        sentences.append(
            f"For this budget, **{cheapest['label']}** is the cheapest method as good as the best: "
            f"{cheapest.get('trainable_params', 0):,} trainable parameters, {format_size(saved_bytes(cheapest))} on "
            f"disk" + (f", {cheapest['train_seconds_excluding_eval'] / 60:.1f} min of training compute"
                       if isinstance(cheapest.get("train_seconds_excluding_eval"), (int, float)) else "") + ".")
    if baselines and methods:
        anchor = max(baselines, key=_lsum)
        above = [r for r in methods if _lsum(r) > _lsum(anchor)]
        below = [r for r in methods if _lsum(r) <= _lsum(anchor)]
        sentences.append(f"The best baseline is {anchor['label']} ({100 * _lsum(anchor):.1f}); " + (
            ", ".join(f"{r['label']} {100 * (_lsum(r) - _lsum(anchor)):+.1f}" for r in sorted(
                methods, key=_lsum, reverse=True)) + " points against it" +
            (f" ({len(below)} of {len(methods)} methods do not beat it)" if below else
             f" (all {len(above)} methods above it)") + "."))
    forgetting = [r for r in methods if isinstance(r.get("forgetting"), (int, float))]
    if forgetting:
        worst = max(forgetting, key=lambda r: r["forgetting"])
        sentences.append(f"Most forgetting of general text: {worst['label']} ({worst['forgetting']:+.3f} nats per "
                         "token against the base model).")
    return "## Reading\n\n" + " ".join(sentences) + "\n"
