"""Matplotlib figures written as PNG files (headless backend, no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def loss_series(log_history: list[dict]) -> tuple[list, list, list, list]:
    """(train epochs, train losses, eval epochs, eval losses) from a Trainer `log_history`."""
    train = [(e["epoch"], e["loss"]) for e in log_history if "loss" in e and "epoch" in e]
    evals = [(e["epoch"], e["eval_loss"]) for e in log_history if "eval_loss" in e and "epoch" in e]
    return [x for x, _ in train], [y for _, y in train], [x for x, _ in evals], [y for _, y in evals]


def plot_loss_curves(histories: dict[str, list[dict]], path: str, title: str = "Training and validation loss") -> str:
    """One figure, one colour per run: training loss as a line, validation loss as markers joined by dashes."""
    figure, axis = plt.subplots(figsize=(8, 5), dpi=120)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (name, history) in enumerate(histories.items()):
        colour = colours[index % len(colours)]
        train_x, train_y, eval_x, eval_y = loss_series(history)
        if train_x:
            axis.plot(train_x, train_y, color=colour, alpha=0.8, label=f"{name} train")
        if eval_x:
            axis.plot(eval_x, eval_y, color=colour, linestyle="--", marker="o", label=f"{name} validation")
    axis.set_xlabel("epoch")
    axis.set_ylabel("cross-entropy loss (summary tokens)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
