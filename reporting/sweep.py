"""The learning-rate sweep in the report: each method's validation score per rate, and the rate chosen.

A method's score can change several-fold with its learning rate, so a comparison at one hand-picked rate ranks
configurations, not methods. `sweep` (written by the comparison command, `sweep.json`) maps each method to
`{"select_by": "eval_loss" | "eval_rougeLsum", "chosen": rate, "results": {rate: {eval_loss, eval_rougeLsum}}}`.
"""

from __future__ import annotations

from .plots import DPI, method_colours, plt


def sweep_markdown(sweep: dict) -> str:
    if not sweep:
        return ""
    lines = ["## Learning rates (chosen on the validation split)", "",
             "Each method trained once per rate (seed of the first run) and was scored on the validation split; "
             "the test runs above use the chosen rate. ![validation score per learning rate](learning_rates.png)", "",
             "| method | learning rate | eval loss | eval ROUGE-Lsum | chosen by |", "|:---|---:|---:|---:|:---|"]
    for method, entry in sweep.items():
        for rate, scores in sorted(entry["results"].items(), key=lambda item: float(item[0])):
            chosen = float(rate) == float(entry["chosen"])
            loss, rouge = scores.get("eval_loss"), scores.get("eval_rougeLsum")
            lines.append(f"| {method} | {'**' if chosen else ''}{float(rate):g}{'**' if chosen else ''} | "
                         f"{'n/a' if loss is None else f'{loss:.3f}'} | "
                         f"{'n/a' if rouge is None else f'{100 * rouge:.1f}'} | "
                         f"{entry['select_by'] if chosen else ''} |")
    return "\n".join(lines) + "\n"


def plot_sweep(sweep: dict, path: str) -> str:
    """Validation loss against learning rate (log x), one line per method, the chosen rate ringed."""
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=DPI)
    colours = method_colours(list(sweep))
    for method, entry in sweep.items():
        points = sorted((float(rate), scores.get("eval_loss")) for rate, scores in entry["results"].items()
                        if scores.get("eval_loss") is not None)
        if not points:
            continue
        axis.plot([x for x, _ in points], [y for _, y in points], marker="o", color=colours[method], label=method)
        chosen = [(x, y) for x, y in points if x == float(entry["chosen"])]
        if chosen:
            axis.plot(*chosen[0], marker="o", markersize=14, markerfacecolor="none", color=colours[method])
    axis.set_xscale("log")
    axis.set_xlabel("learning rate (log scale)")
    axis.set_ylabel("validation loss")
    axis.set_title("Learning-rate sweep (ringed: chosen)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path
