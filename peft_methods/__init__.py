"""The methods this project compares, one small module each, and the baselines beside them: one registry.

Adding a method: write `peft_methods/<name>.py` with a config dataclass and a `METHOD = Method(...)` (an adapter
PEFT builds: `peft_adapter.peft_adapter_method(...)`, as `dora.py`), add one line to `METHODS`, and write its
configs/<name>.yaml from the row (`python -m summarization_training.method_configs`). Everything else (the command line, runs, cards, Hub uploads, summarize.py, the
comparison and its report) reads the row. `BASELINES` are rows that do not train, scored the same way.
"""

from . import dora, full, head, ia3, lora, soft_prompt, zero_shot
from .base import Method, count_parameters
from .lead import lead_baseline

METHODS: dict[str, Method] = {
    "prompt": soft_prompt.METHOD,
    "lora": lora.METHOD,
    "ia3": ia3.METHOD,
    "head": head.METHOD,
    "full": full.METHOD,
    "dora": dora.METHOD,
}

BASELINES: dict[str, Method] = {
    "lead-1": lead_baseline(1),
    "lead-3": lead_baseline(3),
    "zero-shot": zero_shot.METHOD,
}

# Every row in report order: baselines first (the bar to clear), then the methods.
REGISTRY: dict[str, Method] = {**BASELINES, **METHODS}

# What run_summarization.py can run (the lead baselines have their own script).
RUNNABLE: dict[str, Method] = {name: row for name, row in REGISTRY.items() if row.build is not None}

# Each once: rows built on the same flags (LoRA and DoRA) share one config class.
METHOD_CONFIG_CLASSES = list(dict.fromkeys(m.config_class for m in METHODS.values() if m.config_class is not None))


def method_row(name: str | None) -> Method | None:
    """The registry's row for a recorded method name (lead-N for any N), None for a name it does not know."""
    if name in REGISTRY:
        return REGISTRY[name]
    if name and name.startswith("lead-") and name[5:].isdigit() and int(name[5:]) > 0:
        return lead_baseline(int(name[5:]))
    return None


__all__ = ["BASELINES", "METHODS", "METHOD_CONFIG_CLASSES", "REGISTRY", "RUNNABLE", "Method", "count_parameters",
           "method_row"]
