"""Matplotlib figures written as PNG files (headless backend, no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

DPI = 120
ROUGE_BARS = (("rouge1", "ROUGE-1"), ("rouge2", "ROUGE-2"), ("rougeLsum", "ROUGE-Lsum"))
_PALETTE = plt.get_cmap("tab10").colors


def registry_colours() -> dict[str, tuple | str]:
    """Same colour for a method in every figure, by its place in the registry; baselines in neutral greys."""
    from peft_methods import REGISTRY

    trained = [name for name, row in REGISTRY.items() if row.trains]
    baselines = [name for name, row in REGISTRY.items() if not row.trains]
    greys = ["#111111", "#333333", "#555555", "#777777", "#999999"]
    return {**{name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(trained)},
            **{name: greys[i % len(greys)] for i, name in enumerate(baselines)}}


def method_colours(names: list[str]) -> dict[str, tuple | str]:
    """A stable colour per name: known methods keep theirs (the first run of a method, when several share one),
    the others take the unused tab10 colours in order."""
    known = registry_colours()
    spare = [c for c in _PALETTE if c not in known.values()]
    colours, used = {}, 0
    for name in names:
        key = name.split(" (")[0]
        if key in known and known[key] not in colours.values():
            colours[name] = known[key]
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
    for index, (key, _) in enumerate(ROUGE_BARS):
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
        bars = axis.bar(positions, heights, width * 0.92, yerr=errors, capsize=3, color=shades[index],
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
        handles = [Patch(facecolor=shade, label=name) for shade, (_, name) in zip(shades, ROUGE_BARS)]
        if any(r.get("baseline") for r in rows):
            handles.append(Patch(facecolor="#bbbbbb", edgecolor="white", hatch="//", label="baseline (hatched)"))
        axis.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                    title="ROUGE F1")
    axis.set_xlabel("method")
    axis.set_ylabel("ROUGE F1 (%); whiskers: 95% bootstrap interval")
    axis.set_title(title)
    axis.grid(axis="y", alpha=0.3)
    axis.set_axisbelow(True)
    return _save(figure, path)


# Where a point's label may go, tried in order: (dx, dy) in points from the marker, horizontal and vertical
# alignment. The far ones get a thin leader line back to the point.
_LABEL_SPOTS = [(9, 0, "left", "center"), (-9, 0, "right", "center"), (7, 9, "left", "bottom"),
                (7, -9, "left", "top"), (-7, 9, "right", "bottom"), (-7, -9, "right", "top"),
                (0, 14, "center", "bottom"), (0, -14, "center", "top")]
_LABEL_SPOTS += [(dx, dy, "left" if dx > 0 else "right", "center") for dy in (22, -22, 36, -36, 50, -50)
                 for dx in (18, -18)]


def _overlaps(box, others) -> bool:
    return any(box.overlaps(other) for other in others)


def _inside(box, frame) -> bool:
    return box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1


def _place_text(axis, xy, text: str, spots, obstacles: list, renderer, **style):
    """Annotate `xy` at the first spot whose text box stays inside the axes and clear of `obstacles`
    (display-space boxes), or at the first spot when none is free. Returns the label's display-space box."""
    frame = axis.get_window_extent(renderer)
    first = None
    for dx, dy, ha, va in spots:
        far = abs(dy) > 15 or abs(dx) > 15
        annotation = axis.annotate(text, xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                                   arrowprops={"arrowstyle": "-", "color": "#888888", "lw": 0.7,
                                               "shrinkA": 1, "shrinkB": 5} if far else None, **style)
        box = annotation.get_window_extent(renderer).expanded(1.04, 1.15)
        if _inside(box, frame) and not _overlaps(box, obstacles):
            if first is not None:
                first[0].remove()
            return box
        if first is None:
            first = (annotation, box)
        else:
            annotation.remove()
    return first[1]


def _label_panel(axis, drawn: list[dict], lines: list[dict], x_key: str, y_key: str, colours: dict) -> None:
    """Labels for the baseline lines and the points, each placed clear of markers, whiskers and other labels.
    Runs after the layout is final: it measures text in display space."""
    from matplotlib.transforms import Bbox

    renderer = axis.figure.canvas.get_renderer()
    to_display = axis.transData.transform
    obstacles = []
    for point in drawn:
        x, y = to_display((point[x_key], _percent(point[y_key])))
        obstacles.append(Bbox.from_extents(x - 8, y - 8, x + 8, y + 8))
        errors = _interval(point, y_key)
        if errors is not None:
            _, low = to_display((point[x_key], _percent(point[y_key]) - errors[0]))
            _, high = to_display((point[x_key], _percent(point[y_key]) + errors[1]))
            obstacles.append(Bbox.from_extents(x - 7, low - 2, x + 7, high + 2))
    frame = axis.get_window_extent(renderer)
    for baseline in lines:
        y = _percent(baseline[y_key])
        text = f"{baseline['label']} (baseline) {y:.1f}"
        spots = []
        for ha in ("left", "right"):
            fraction = 0.01 if ha == "left" else 0.99
            spots += [((fraction, y), ha, va, dy) for va, dy in (("bottom", 2), ("top", -2))]
        chosen = None
        for (fraction, level), ha, va, dy in spots:
            label = axis.annotate(text, (fraction, level), xycoords=axis.get_yaxis_transform(), xytext=(0, dy),
                                  textcoords="offset points", ha=ha, va=va, fontsize=8.5,
                                  color=colours[baseline["label"]], fontstyle="italic")
            box = label.get_window_extent(renderer).expanded(1.04, 1.1)
            if _inside(box, frame) and not _overlaps(box, obstacles):
                if chosen is not None:
                    chosen[0].remove()
                chosen = (label, box)
                break
            if chosen is None:
                chosen = (label, box)
            else:
                label.remove()
        obstacles.append(chosen[1])
    for point in sorted(drawn, key=lambda p: p[x_key]):
        y = _percent(point[y_key])
        box = _place_text(axis, (point[x_key], y), f"{point['label']}  {y:.1f}", _LABEL_SPOTS, obstacles,
                          renderer, fontsize=9, color=colours[point["label"]], fontweight="bold")
        obstacles.append(box)


# The frontier's time axis: training without the evaluations made during it, the time tokens/s is measured
# over (trainer_callbacks/throughput.py). Trainer's `train_runtime` also counts every evaluation with its
# generated summaries, so it says as much about the evaluation settings as about the method.
TIME_KEY = "train_seconds_excluding_eval"


def _frontier_panel(axis, points: list[dict], baselines: list[dict], x_key: str, colours: dict, log_x: bool,
                    y_key: str) -> tuple[list[dict], list[dict]]:
    """Points, whiskers, baseline lines and limits; returns (points drawn, baselines drawn) for labelling."""
    drawn = [p for p in points if p.get(x_key) is not None and p.get(y_key) is not None
             and (not log_x or p[x_key] > 0)]
    ys = [_percent(p[y_key]) for p in drawn]
    for point, y in zip(drawn, ys):
        errors = _interval(point, y_key)
        axis.errorbar([point[x_key]], [y], yerr=None if errors is None else [[errors[0]], [errors[1]]],
                      fmt="*" if point.get("tied_with_best") else "o", markersize=14 if point.get("tied_with_best")
                      else 8, capsize=4, color=colours[point["label"]], zorder=3)
    lines = [b for b in baselines if b.get(y_key) is not None]
    for baseline in lines:
        axis.axhline(_percent(baseline[y_key]), color=colours[baseline["label"]], linestyle=(0, (2, 2)),
                     linewidth=1.6, zorder=1)
    all_y = ys + [_percent(b[y_key]) for b in lines]
    all_y += [_percent(p.get(f"{y_key}_ci_low")) for p in drawn if p.get(f"{y_key}_ci_low") is not None]
    all_y += [_percent(p.get(f"{y_key}_ci_high")) for p in drawn if p.get(f"{y_key}_ci_high") is not None]
    if log_x:
        axis.set_xscale("log")
    if drawn:
        xs = [p[x_key] for p in drawn]
        low, high = min(xs), max(xs)
        if log_x:
            margin = max(5.0, (100.0 / (high / low)) ** 0.5)  # at least two decades: no crowded minor labels
            axis.set_xlim(low / margin, high * margin)
            axis.xaxis.set_minor_formatter(NullFormatter())
        else:
            span = (high - low) or max(abs(high), 1.0)
            axis.set_xlim(max(0.0, low - 0.3 * span), high + 0.3 * span)
    else:
        _placeholder(axis, "no trained run has this measurement")
        axis.set_xticks([])
        axis.minorticks_off()
    if all_y:
        span = max(max(all_y) - min(all_y), 2.0)
        axis.set_ylim(min(all_y) - 0.2 * span, max(all_y) + 0.2 * span)
    axis.grid(alpha=0.3)
    return drawn, lines


def plot_frontier(points: list[dict], baselines: list[dict], path: str, prefix: str = "predict",
                  title: str = "Cost vs. quality: test ROUGE-Lsum", colours: dict | None = None) -> str:
    """Two panels: trainable parameters (log x) and train compute seconds (x, `TIME_KEY`) vs ROUGE-Lsum (%), a
    labelled point with 95% interval per trained run (`label`, `trainable_params`, `TIME_KEY`,
    `{prefix}_rougeLsum...`); baselines as labelled horizontal lines. Points missing a value are skipped in
    that panel (a run without the compute time gets no stand-in)."""
    colours = {**method_colours([r["label"] for r in points + baselines]), **(colours or {})}
    y_key = f"{prefix}_rougeLsum"
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5), dpi=DPI, sharey=True)
    panels = [(left, "trainable_params", True)]
    left.set_xlabel("trainable parameters (count, log scale)")
    left.set_ylabel("ROUGE-Lsum F1 (%); whiskers: 95% bootstrap interval")
    left.set_title("(a) trainable parameters")
    times = [p[TIME_KEY] for p in points if p.get(TIME_KEY)]
    log_time = bool(times) and min(times) > 0 and max(times) / min(times) > 30
    panels.append((right, TIME_KEY, log_time))
    right.set_xlabel("train compute time, evaluation excluded (seconds" + (", log scale)" if log_time else ")"))
    right.set_title("(b) train compute time")
    right.tick_params(labelleft=True)
    tied = [p["label"] for p in points if p.get("tied_with_best")]
    figure.suptitle(title + (f"\n★: not distinguishable from the best (paired test): {', '.join(tied)}" if tied else ""))
    drawn = [_frontier_panel(axis, points, baselines, key, colours, log_x=log, y_key=y_key)
             for axis, key, log in panels]
    figure.tight_layout()  # labels are placed in display space, so the layout must be final first
    for (axis, key, _), (panel_points, panel_lines) in zip(panels, drawn):
        _label_panel(axis, panel_points, panel_lines, key, y_key, colours)
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path
