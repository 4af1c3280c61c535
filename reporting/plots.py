"""Matplotlib figures written as PNG files (headless backend, no display needed)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.transforms import offset_copy  # noqa: E402

DPI = 120
ROUGE_BARS = (("rouge1", "ROUGE-1"), ("rouge2", "ROUGE-2"), ("rougeLsum", "ROUGE-Lsum"))
_PALETTE = plt.get_cmap("tab10").colors
# Same colour for a method in every figure; baselines in neutral tones.
METHOD_COLOURS = {"prompt": _PALETTE[0], "lora": _PALETTE[1], "head": _PALETTE[2], "full": _PALETTE[3],
                  "lead-3": "#555555", "zero-shot": "#999999"}


def method_colours(names: list[str]) -> dict[str, tuple | str]:
    """A stable colour per name: known methods keep theirs, others take the unused tab10 colours in order."""
    spare = [c for c in _PALETTE if c not in METHOD_COLOURS.values()]
    colours, used = {}, 0
    for name in names:
        key = name.split(" (")[0]
        if key in METHOD_COLOURS:
            colours[name] = METHOD_COLOURS[key]
        else:
            colours[name] = spare[used % len(spare)]
            used += 1
    return colours


def loss_series(log_history: list[dict]) -> tuple[list, list, list, list]:
    """(train epochs, train losses, eval epochs, eval losses) from a Trainer `log_history`."""
    train = [(e["epoch"], e["loss"]) for e in log_history if "loss" in e and "epoch" in e]
    evals = [(e["epoch"], e["eval_loss"]) for e in log_history if "eval_loss" in e and "epoch" in e]
    return [x for x, _ in train], [y for _, y in train], [x for x, _ in evals], [y for _, y in evals]


def _placeholder(axis, message: str) -> None:
    axis.text(0.5, 0.5, message, ha="center", va="center", transform=axis.transAxes, fontsize=11, color="#555555")


def _save(figure, path: str) -> str:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path


def plot_loss_curves(histories: dict[str, list[dict]], path: str, title: str = "Training and validation loss",
                     colours: dict[str, tuple | str] | None = None) -> str:
    """One figure, one colour per run: training loss as a solid line, validation loss as markers joined by
    dashes. The legend names each run once (its colour) plus one entry per line style."""
    figure, axis = plt.subplots(figsize=(9, 5.5), dpi=DPI)
    colours = {**method_colours(list(histories)), **(colours or {})}
    run_handles, any_train, any_eval = [], False, False
    for name, history in histories.items():
        colour = colours[name]
        train_x, train_y, eval_x, eval_y = loss_series(history or [])
        if train_x:
            axis.plot(train_x, train_y, color=colour, alpha=0.85, linewidth=1.6)
            any_train = True
        if eval_x:
            axis.plot(eval_x, eval_y, color=colour, linestyle="--", marker="o", markersize=5, linewidth=1.6)
            any_eval = True
        if train_x or eval_x:
            run_handles.append(Line2D([], [], color=colour, linewidth=3, label=name))
    axis.set_xlabel("epoch")
    axis.set_ylabel("cross-entropy loss (nats per summary token)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    if run_handles:
        style_handles = []
        if any_train:
            style_handles.append(Line2D([], [], color="black", linewidth=1.6, label="training loss"))
        if any_eval:
            style_handles.append(Line2D([], [], color="black", linestyle="--", marker="o", markersize=5,
                                        label="validation loss"))
        axis.legend(handles=run_handles + style_handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                    borderaxespad=0.0, fontsize="medium", title="method / line")
    else:
        _placeholder(axis, "no training or validation losses logged")
    return _save(figure, path)


def _percent(value) -> float | None:
    return None if value is None else 100.0 * value


def _interval(row: dict, key: str) -> tuple[float, float] | None:
    """(below, above) error-bar lengths in % from `{key}_ci_low` / `_ci_high`, None when missing."""
    value, low, high = row.get(key), row.get(f"{key}_ci_low"), row.get(f"{key}_ci_high")
    if value is None or low is None or high is None:
        return None
    return max(0.0, 100.0 * (value - low)), max(0.0, 100.0 * (high - value))


def plot_rouge_bars(rows: list[dict], path: str, title: str = "Test-set ROUGE F1 by method",
                    prefix: str = "predict", colours: dict[str, tuple | str] | None = None) -> str:
    """Grouped bars: one group per row (`row["label"]`, `row["baseline"]`), one bar per ROUGE type in %,
    with the 95% bootstrap interval as error bars. Rows without any ROUGE value are left out."""
    rows = [r for r in rows if any(r.get(f"{prefix}_{key}") is not None for key, _ in ROUGE_BARS)]
    figure, axis = plt.subplots(figsize=(max(7.0, 1.5 * len(rows) + 3.0), 5.5), dpi=DPI)
    if not rows:
        _placeholder(axis, "no ROUGE scores in these runs")
        axis.set_xticks([])
    width = 0.8 / len(ROUGE_BARS)
    shades = ("#4C72B0", "#DD8452", "#55A868")
    for index, (key, name) in enumerate(ROUGE_BARS):
        positions, heights, errors = [], [], [[], []]
        for group, row in enumerate(rows):
            value = _percent(row.get(f"{prefix}_{key}"))
            if value is None:
                continue
            positions.append(group + (index - (len(ROUGE_BARS) - 1) / 2) * width)
            heights.append(value)
            below, above = _interval(row, f"{prefix}_{key}") or (0.0, 0.0)
            errors[0].append(below)
            errors[1].append(above)
        bars = axis.bar(positions, heights, width * 0.92, yerr=errors, capsize=3, color=shades[index], label=name,
                        error_kw={"elinewidth": 1.0, "ecolor": "#222222"})
        for bar, above in zip(bars, errors[1]):
            axis.annotate(f"{bar.get_height():.1f}", (bar.get_x() + bar.get_width() / 2, bar.get_height() + above),
                          xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=7.5)
        for bar, row in zip(bars, [r for r in rows if r.get(f"{prefix}_{key}") is not None]):
            if row.get("baseline"):
                bar.set_hatch("//")
                bar.set_edgecolor("white")
    if rows:
        axis.set_xticks(range(len(rows)))
        axis.set_xticklabels([r["label"] + ("\n(baseline)" if r.get("baseline") else "") for r in rows])
        axis.set_xlim(-0.6, len(rows) - 0.4)
        top = max((_percent(r.get(f"{prefix}_{k}_ci_high")) or _percent(r.get(f"{prefix}_{k}")) or 0.0)
                  for r in rows for k, _ in ROUGE_BARS)
        axis.set_ylim(0, max(1.0, top * 1.15))
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                    title="F1 (hatched: baseline)")
    axis.set_xlabel("method")
    axis.set_ylabel("ROUGE F1 (%), bars: 95% bootstrap interval")
    axis.set_title(title)
    axis.grid(axis="y", alpha=0.3)
    axis.set_axisbelow(True)
    return _save(figure, path)


def _spread_labels(values: list[float], min_gap: float) -> list[float]:
    """Positions close to `values` (same order) at least `min_gap` apart, for labels that must not overlap."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    placed = [0.0] * len(values)
    previous = -math.inf
    for i in order:
        placed[i] = max(values[i], previous + min_gap)
        previous = placed[i]
    shift = (sum(placed) - sum(values)) / max(1, len(values))  # re-centre the block around the originals
    return [p - shift for p in placed]


def _frontier_panel(axis, points: list[dict], baselines: list[dict], x_key: str, colours: dict, log_x: bool,
                    y_key: str) -> None:
    drawn = [p for p in points if p.get(x_key) is not None and p.get(y_key) is not None
             and (not log_x or p[x_key] > 0)]
    ys = [_percent(p[y_key]) for p in drawn]
    for point, y in zip(drawn, ys):
        errors = _interval(point, y_key)
        axis.errorbar([point[x_key]], [y], yerr=None if errors is None else [[errors[0]], [errors[1]]],
                      fmt="o", markersize=8, capsize=4, color=colours[point["label"]], zorder=3)
    lines = [b for b in baselines if b.get(y_key) is not None]
    all_y = ys + [_percent(b[y_key]) for b in lines]
    all_y += [_percent(p.get(f"{y_key}_ci_low")) for p in drawn if p.get(f"{y_key}_ci_low") is not None]
    all_y += [_percent(p.get(f"{y_key}_ci_high")) for p in drawn if p.get(f"{y_key}_ci_high") is not None]
    if log_x:
        axis.set_xscale("log")
    if drawn:
        xs = [p[x_key] for p in drawn]
        low, high = min(xs), max(xs)
        if log_x:
            axis.set_xlim(low / 4, high * 4)
        else:
            span = (high - low) or max(abs(high), 1.0)
            axis.set_xlim(max(0.0, low - 0.25 * span), high + 0.45 * span)
    elif not lines:
        _placeholder(axis, "no runs with this measurement")
    if all_y:
        span = (max(all_y) - min(all_y)) or 1.0
        axis.set_ylim(min(all_y) - 0.2 * span, max(all_y) + 0.2 * span)
    y_low, y_high = axis.get_ylim()
    gap = 0.06 * (y_high - y_low)
    # Point labels to the right of each point, nudged apart vertically when points sit at similar heights.
    shifted = offset_copy(axis.transData, fig=axis.figure, x=10, y=0, units="points")
    for point, y, label_y in zip(drawn, ys, _spread_labels(ys, gap)):
        axis.text(point[x_key], label_y, f"{point['label']}  {y:.1f}", transform=shifted, fontsize=9,
                  va="center", ha="left", color=colours[point["label"]], fontweight="bold")
    line_ys = [_percent(b[y_key]) for b in lines]
    for baseline, y, label_y in zip(lines, line_ys, _spread_labels(line_ys, gap)):
        colour = colours[baseline["label"]]
        axis.axhline(y, color=colour, linestyle=":", linewidth=1.8, zorder=1)
        axis.text(0.01, label_y, f"{baseline['label']} (baseline) {y:.1f}", transform=axis.get_yaxis_transform(),
                  fontsize=8.5, color=colour, va="bottom", ha="left",
                  bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 1.0})
    axis.grid(alpha=0.3, which="both" if log_x else "major")


def plot_frontier(points: list[dict], baselines: list[dict], path: str, prefix: str = "predict",
                  title: str = "Cost vs. quality: test ROUGE-Lsum", colours: dict | None = None) -> str:
    """Two panels: trainable parameters (log x) and training seconds (x) vs ROUGE-Lsum (%), a labelled point
    with 95% interval per trained run (`label`, `trainable_params`, `train_runtime`, `{prefix}_rougeLsum...`);
    baselines as labelled horizontal lines. Points missing a value are skipped in that panel."""
    colours = {**method_colours([r["label"] for r in points + baselines]), **(colours or {})}
    y_key = f"{prefix}_rougeLsum"
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5), dpi=DPI, sharey=True)
    _frontier_panel(left, points, baselines, "trainable_params", colours, log_x=True, y_key=y_key)
    left.set_xlabel("trainable parameters (count, log scale)")
    left.set_ylabel("ROUGE-Lsum F1 (%), bars: 95% bootstrap interval")
    left.set_title("(a) trainable parameters")
    times = [p["train_runtime"] for p in points if p.get("train_runtime")]
    log_time = bool(times) and min(times) > 0 and max(times) / min(times) > 30
    _frontier_panel(right, points, baselines, "train_runtime", colours, log_x=log_time, y_key=y_key)
    right.set_xlabel("training time (seconds" + (", log scale)" if log_time else ")"))
    right.set_title("(b) training time")
    right.tick_params(labelleft=True)
    figure.suptitle(title)
    return _save(figure, path)
