"""One comparison report from several run folders: a markdown table of cost and quality plus three plots.

    python -m reporting.report RUN_DIR [RUN_DIR ...] --output_dir DIR
    python -m reporting.report PARENT_DIR --output_dir DIR     # every subfolder of PARENT_DIR is a run

A run folder holds `all_results.json` (written by run_summarization.py or a baseline script) and, for trained
runs, `trainer_state.json`. A folder without `all_results.json` is reported as a failed run, with the first
line of its `error.txt` when there is one. Writes DIR/REPORT.md, DIR/loss_curves.png, DIR/rouge.png and
DIR/frontier.png, and prints the REPORT.md path.
"""

from __future__ import annotations

import argparse
import os
import sys

from core import BadInputError, one_line_errors, run_cli, run_folder
from metrics.faithfulness import NER_MODEL, ArticleTexts, load_ner, read_articles
from peft_methods import REGISTRY, method_row

from .faithfulness import WITHOUT_ARTICLES, attach_faithfulness, faithfulness_text, reference_row
from .plots import method_colours, plot_frontier, plot_loss_curves, plot_rouge_bars
from .reading import examples_text, format_size, reading_text, saved_bytes, setup_text
from .statistics import attach_per_article_scores, check_data, group_seeds, significance
from .sweep import plot_sweep, sweep_markdown

ROUGE_TYPES = (("rouge1", "ROUGE-1"), ("rouge2", "ROUGE-2"), ("rougeL", "ROUGE-L"), ("rougeLsum", "ROUGE-Lsum"))
DEFAULT_TITLE = "CNN/DailyMail summarization: parameter-efficient fine-tuning compared"
RUN_MARKERS = (run_folder.RESULTS, run_folder.TRAINER_STATE, run_folder.ERROR, run_folder.RUN_RESULTS,
               run_folder.TRAIN_RESULTS, "config.json", "adapter_config.json", "training_args.bin")
NA = "n/a"


# ---------------------------------------------------------------- reading run folders


def _first_line(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.strip():
                    return line.strip()
    except OSError:
        return None
    return None


def is_run_folder(path: str) -> bool:
    """Has a file a run writes, or only Trainer checkpoints as subfolders (a run that died mid-training)."""
    if any(os.path.exists(os.path.join(path, name)) for name in RUN_MARKERS):
        return True
    subfolders = [name for name in os.listdir(path) if os.path.isdir(os.path.join(path, name))]
    return bool(subfolders) and all(name.startswith("checkpoint-") for name in subfolders)


def find_run_dirs(paths: list[str], exclude: str | None = None) -> list[str]:
    """Run folders from the arguments: a folder with run files is a run; a folder without them but with
    subfolders is a parent whose (non-hidden) subfolders are each a run. `exclude` (the report's own output
    folder) is never taken for a run."""
    found = []
    skip = os.path.abspath(exclude) if exclude else None
    for path in paths:
        if os.path.isdir(path) and not is_run_folder(path):
            children = sorted(os.path.join(path, name) for name in os.listdir(path)
                              if not name.startswith(".") and os.path.isdir(os.path.join(path, name)))
            children = [child for child in children if os.path.abspath(child) != skip]
            if children:
                found.extend(children)
                continue
        found.append(path)
    return found


def load_run(run_dir: str) -> dict:
    """A run as one dict: the all_results.json keys plus `run_dir`, `name` (folder name), `log_history`,
    `failed` and `error` (first line of error.txt, or why the folder is not a finished run)."""
    run = {"run_dir": run_dir, "name": os.path.basename(os.path.normpath(run_dir)), "log_history": []}
    results = run_folder.read_json(os.path.join(run_dir, run_folder.RESULTS)) if os.path.isdir(run_dir) else None
    error = _first_line(os.path.join(run_dir, run_folder.ERROR))
    if not os.path.isdir(run_dir):
        error = "folder not found"
    elif results is None:
        error = error or (f"no {run_folder.RESULTS}" if not os.path.exists(os.path.join(run_dir, run_folder.RESULTS))
                          else f"{run_folder.RESULTS} is not a readable JSON object")
    if isinstance(results, dict):
        run.update(results)
    run["failed"] = error is not None
    run["error"] = error
    state = run_folder.read_json(os.path.join(run_dir, run_folder.TRAINER_STATE))
    if isinstance(state, dict) and isinstance(state.get("log_history"), list):
        run["log_history"] = [entry for entry in state["log_history"] if isinstance(entry, dict)]
    run["baseline"] = (not run["failed"]) and is_baseline(run)
    return run


def is_baseline(run: dict) -> bool:
    row = method_row(run.get("method"))
    return row is not None and not row.trains


def sort_key(run: dict) -> tuple:
    """Finished runs first, in the registry's order (baselines, then methods), then by folder name."""
    method = run.get("method")
    order = list(REGISTRY)
    rank = order.index(method) if method in order else len(order)
    return (1 if run["failed"] else 0, rank, str(method or ""), run["name"])


def label_runs(runs: list[dict]) -> None:
    """`label`: the method name, or `method (folder)` when two runs share a method."""
    counts = {}
    for run in runs:
        counts[run.get("method")] = counts.get(run.get("method"), 0) + 1
    for run in runs:
        method = run.get("method")
        if not method:
            run["label"] = run["name"]
        elif counts[method] > 1 and run["name"] != method:
            run["label"] = f"{method} ({run['name']})"
        else:
            run["label"] = str(method)


# ---------------------------------------------------------------- formatting


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value else None  # NaN counts as missing


def format_count(value) -> str:
    value = _number(value)
    return NA if value is None else f"{round(value):,}"


def format_fixed(value, digits: int) -> str:
    value = _number(value)
    return NA if value is None else f"{value:,.{digits}f}"


def format_percent_share(value) -> str:
    """Trainable share in % with three significant digits (0.0155, 3.65, 100)."""
    value = _number(value)
    if value is None:
        return NA
    return "0" if value == 0 else f"{value:.3g}"


def format_duration(seconds) -> str:
    """`42.1 s` under a minute, `12 min 05 s` under an hour, else `2 h 03 min`."""
    seconds = _number(seconds)
    if seconds is None:
        return NA
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def format_rouge(run: dict, key: str) -> str:
    """F1 in % with one decimal, with the 95% bootstrap interval when known: `31.2 (30.1–32.4)`."""
    value = _number(run.get(key))
    if value is None:
        return NA
    low, high = _number(run.get(f"{key}_ci_low")), _number(run.get(f"{key}_ci_high"))
    text = f"{100 * value:.1f}"
    if low is not None and high is not None:
        text += f" ({100 * low:.1f}–{100 * high:.1f})"
    return text


def format_seeds(run: dict) -> str:
    """`3 (sd 0.4)`: the number of seeds and the spread of ROUGE-Lsum (points) across them. A single trained run
    is one seed; a run that recorded neither a seed nor a training has no seed to count."""
    trained = not run["failed"] and not run["baseline"] and ("seed" in run or "train_runtime" in run)
    seeds = run.get("seeds") or (1 if trained else None)
    spread = _number(run.get("seed_sd_rougeLsum"))
    return NA if seeds is None else f"{seeds}" + (f" (sd {100 * spread:.1f})" if spread is not None else "")


def format_signed(value, digits: int) -> str:
    value = _number(value)
    return NA if value is None else f"{value:+.{digits}f}"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def method_cell(run: dict) -> str:
    label = run["label"]
    if run["failed"]:
        error = run["error"] if len(run["error"]) <= 160 else run["error"][:157] + "..."
        return f"{label} **failed**: {error}"
    marks = [*(["baseline"] if run["baseline"] else []), *(["*other data*"] if run.get("other_data") else [])]
    return f"{label} ({', '.join(marks)})" if marks else label


COLUMNS = (
    ("method", method_cell),
    ("trainable params", lambda r: format_count(r.get("trainable_params"))),
    ("trainable %", lambda r: format_percent_share(r.get("trainable_percent"))),
    ("lr", lambda r: NA if r.get("learning_rate") is None else f"{r['learning_rate']:g}"),
    ("seeds", lambda r: format_seeds(r)),
    ("train compute time", lambda r: format_duration(r.get("train_seconds_excluding_eval"))),
    ("tokens/s", lambda r: format_fixed(r.get("train_tokens_per_second"), 0)),  # over the compute time
    ("train wall time", lambda r: format_duration(r.get("train_runtime"))),
    ("peak accel. MB", lambda r: format_fixed(r.get("train_peak_accelerator_memory_mb"), 0)),
    ("peak host MB", lambda r: format_fixed(r.get("train_peak_host_memory_mb"), 0)),
    ("saved size", lambda r: format_size(saved_bytes(r))),
    ("s / summary", lambda r: format_fixed(r.get("predict_seconds_per_summary"), 2)),
    ("articles cut", lambda r: NA if r.get("predict_articles_cut") is None else
     f"{format_count(r['predict_articles_cut'])} / {format_count(r.get('predict_generated_samples'))}"),
    ("eval loss", lambda r: format_fixed(r.get("eval_loss"), 3)),
    ("test loss", lambda r: format_fixed(r.get("predict_loss"), 3)),
    *((title, lambda r, k=key: format_rouge(r, f"predict_{k}")) for key, title in ROUGE_TYPES),
    ("gen len", lambda r: format_fixed(r.get("predict_gen_len"), 1)),
    ("forgetting", lambda r: format_signed(r.get("forgetting"), 3)),
)


def format_table(runs: list[dict]) -> str:
    lines = ["| " + " | ".join(title for title, _ in COLUMNS) + " |",
             "|" + "|".join(":---" if index == 0 else "---:" for index in range(len(COLUMNS))) + "|"]
    for run in runs:
        lines.append("| " + " | ".join(_cell(render(run)) for _, render in COLUMNS) + " |")
    return "\n".join(lines)


def _distinct(runs: list[dict], key: str) -> list:
    values = []
    for run in runs:
        value = run.get(key)
        if value is not None and value not in values:
            values.append(value)
    return values


def describe_runs(runs: list[dict]) -> str:
    finished = [r for r in runs if not r["failed"]]
    trained = [r for r in finished if not r["baseline"]]
    baselines = [r for r in finished if r["baseline"]]
    failed = len(runs) - len(finished)
    models = _distinct([r for r in finished if getattr(method_row(r.get("method")), "uses_model", True)], "base_model")
    samples = [format_count(s) for s in _distinct(finished, "predict_samples")]
    model_text = ", ".join(f"`{m}`" for m in models) if models else NA
    sample_text = " / ".join(samples) if samples else NA
    return (f"{len(runs)} run{'s' * (len(runs) != 1)} ({len(trained)} trained, {len(baselines)} "
            f"baseline{'s' * (len(baselines) != 1)}, {failed} failed); "
            f"base model: {model_text}; test samples: {sample_text}.")


HOW_TO_READ = """\
## How to read this

- **ROUGE** cells are test-set F1 in %, with the 95% bootstrap interval over test examples in brackets.
  Overlapping intervals do not mean "no difference": the paired tests below compare rows article by article.
- **lr** is the learning rate the row trained with; **seeds**: how many seeds the row's numbers average, with
  the spread (standard deviation, points) of ROUGE-Lsum across them.
- **forgetting** is the change in language-model loss (nats per token) on held-out general text (the test
  articles' own text, not their summaries) from the untouched base model to the trained one: positive means the
  method made the model worse at plain text.
- **ROUGE-Lsum** is the summary-level ROUGE-L (longest common subsequence computed per sentence and
  unioned over the summary) that papers report on CNN/DailyMail; plain **ROUGE-L** treats the summary as one
  sequence and is lower.
- **train compute time** is training without the evaluations made during it (forward, backward and optimizer
  steps, plus checkpoint saves); **tokens/s** counts non-padding tokens processed per second of that time.
  **train wall time** is the whole training call as Trainer reports it (`train_runtime`): the compute time plus
  every evaluation during training (validation loss and generated summaries for ROUGE), so it grows with how
  often and how much is evaluated. Compare methods' cost by compute time.
  **peak accel. MB** is the peak accelerator memory allocated during training (n/a on CPU);
  **peak host MB** is the peak resident host memory.
- **articles cut**: of the test articles summarised, how many did not fit the generation prompt whole (cut to
  `--max_length` minus the summary's room); the model never read their ends.
- **eval loss** / **test loss** are cross-entropy per summary token on the validation and test splits;
  **gen len** is the mean length of the generated summaries in tokens.
- Baselines ({baselines}) train nothing, so their cost columns are 0 or n/a; they are drawn as
  horizontal lines on the frontier plot.
"""


def how_to_read() -> str:
    baselines = "; ".join(f"{name}: {row.description}" for name, row in REGISTRY.items() if not row.trains)
    return HOW_TO_READ.format(baselines=baselines)


# ---------------------------------------------------------------- the report


def build_report(run_dirs: list[str], output_dir: str, title: str = DEFAULT_TITLE, sweep: dict | None = None,
                 articles: dict[str, str] | None = None, ner=None) -> str:
    """Write REPORT.md and loss_curves.png, rouge.png, frontier.png (and learning_rates.png with a `sweep`) into
    `output_dir`; return REPORT.md's path. `run_dirs` are run folders, or a parent folder whose subfolders are
    runs; runs named `<row>-seed<k>` are one row over seeds. With the test `articles` ({id: text}), the rows'
    faithfulness and abstractiveness are scored too (`ner`: a spaCy pipeline, by default the installed English one)."""
    os.makedirs(output_dir, exist_ok=True)
    loaded = [load_run(path) for path in find_run_dirs(list(run_dirs), exclude=output_dir)]
    texts, not_computed = None, WITHOUT_ARTICLES
    if articles is not None:
        try:
            texts, not_computed = ArticleTexts(ner or load_ner(), articles), None
        except BadInputError as error:  # spaCy or its English pipeline missing (an offline GPU image): say so
            not_computed = str(error)
            print(f"report: faithfulness not computed: {error}", file=sys.stderr)
    for run in loaded:
        if not run["failed"]:
            attach_per_article_scores(run)
            if texts is not None:
                attach_faithfulness(run, texts)
    runs = sorted(group_seeds(loaded), key=sort_key)
    label_runs(runs)
    data_warning = check_data(runs)
    significance_text, tied_with_best = significance(runs)
    faithfulness = faithfulness_text(runs, reference_row(runs, texts) if texts else None, not_computed)
    for run in runs:
        run["tied_with_best"] = run["label"] in tied_with_best
    finished = [r for r in runs if not r["failed"]]
    colours = method_colours([r["label"] for r in finished])

    histories = {r["label"]: r["log_history"] for r in finished if r["log_history"] and not r["baseline"]}
    validated = any("eval_loss" in entry for history in histories.values() for entry in history)
    curves = "Training and validation loss" if validated else "Training loss"
    plot_loss_curves(histories, os.path.join(output_dir, "loss_curves.png"), title=f"{curves} per method",
                     colours=colours)
    plot_rouge_bars(finished, os.path.join(output_dir, "rouge.png"), colours=colours)
    plot_frontier([r for r in finished if not r["baseline"]], [r for r in finished if r["baseline"]],
                  os.path.join(output_dir, "frontier.png"), colours=colours)
    if sweep:
        plot_sweep(sweep, os.path.join(output_dir, "learning_rates.png"))

    folders = "\n".join(f"- {r['label']}: `{r['run_dir']}`" for r in runs)
    loss_caption = (f"{curves} (trained methods; solid: training"
                    + (", dashed with markers: validation):" if validated else "; no run logged a validation loss "
                       "during training):"))
    text = f"""# {title}

{describe_runs(runs)}

{setup_text(runs)}
{data_warning}
{format_table(runs)}

{reading_text(runs)}
{how_to_read()}
{significance_text}
{faithfulness}
{sweep_markdown(sweep or {})}
## Plots

{loss_caption}

![{curves}](loss_curves.png)

Test ROUGE-1 / ROUGE-2 / ROUGE-Lsum per method, with 95% bootstrap intervals:

![ROUGE by method](rouge.png)

Cost against quality: (a) trainable parameters, (b) train compute time (evaluation excluded), against test
ROUGE-Lsum:

![Cost vs. quality frontier](frontier.png)

{examples_text(runs)}
## Run folders

{folders}
"""
    path = os.path.join(output_dir, "REPORT.md")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = one_line_errors(argparse.ArgumentParser(prog="python -m reporting.report", description=__doc__,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                        help="Run folders (each with all_results.json), or one parent folder whose subfolders are runs.")
    parser.add_argument("--output_dir", required=True,
                        help="Folder for REPORT.md and the PNG plots (created if missing).")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="Title line of REPORT.md.")
    parser.add_argument("--articles", help="The test articles (a CSV or JSON-lines file with `id` and `article`, or a "
                                           "folder of them): adds the faithfulness and abstractiveness section.")
    parser.add_argument("--ner_model", default=NER_MODEL, help="spaCy pipeline finding the named entities.")
    args = parser.parse_args(argv)

    def body(_argv):
        articles = read_articles(args.articles) if args.articles else None
        print(build_report(args.run_dirs, args.output_dir, title=args.title, articles=articles,
                           ner=load_ner(args.ner_model) if articles is not None else None))
        return 0

    return run_cli("python -m reporting.report", body)


if __name__ == "__main__":
    sys.exit(main())
