"""Load a finished run folder of any method back into a model that can `generate`.

The run says which method made it (`run_results.json`, written at its start); a folder from elsewhere is
recognised by its files: PEFT's `adapter_config.json`, our `method_config.json`, or a complete model.
The method's row then loads it, on the base model from the one loader every command uses.
"""

from __future__ import annotations

import os

from core import BadInputError, run_folder
from model_loading import ModelLoadingArguments, load_base_model

from . import REGISTRY, Method, method_row
from .base import METHOD_CONFIG_NAME, PEFT_ADAPTER_CONFIG, read_method_config


def detect_method(run_dir: str) -> tuple[Method, str | None]:
    """(the method's row, the base model recorded in the run) from the files in `run_dir`."""
    recorded = run_folder.recorded_run(run_dir)
    adapter = run_folder.read_json(os.path.join(run_dir, PEFT_ADAPTER_CONFIG)) or {}
    saved = read_method_config(run_dir) if os.path.isfile(os.path.join(run_dir, METHOD_CONFIG_NAME)) else {}
    name = recorded.get("method") or saved.get("method")
    if name is None and adapter:
        name = adapter_method(adapter)
        if name is None:
            types = dict.fromkeys(r.peft_type for r in REGISTRY.values() if r.peft_type)
            raise BadInputError(f"{run_dir}/{PEFT_ADAPTER_CONFIG}: unsupported PEFT type {adapter.get('peft_type')}; "
                                f"this project loads {', '.join(types)}")
    if name is None and os.path.isfile(os.path.join(run_dir, "config.json")):
        name = next(row.name for row in REGISTRY.values() if row.run_is_model)
    row = method_row(name)
    if row is None or row.load_run is None:
        raise BadInputError(f"{run_dir} is not a run folder of a model (method {name!r}: no {run_folder.RUN_RESULTS},"
                            f" {PEFT_ADAPTER_CONFIG}, {METHOD_CONFIG_NAME} or config.json a method here reads)")
    base = (recorded.get("base_model_name_or_path") or adapter.get("base_model_name_or_path")
            or saved.get("base_model_name_or_path"))
    return row, base


def adapter_method(adapter: dict) -> str | None:
    """The row that makes adapters like this PEFT config: of those of its type whose options it has, the one that
    names the most (a DoRA adapter is also a LoRA adapter, with use_dora)."""
    rows = [row for row in REGISTRY.values() if row.peft_type and row.peft_type == adapter.get("peft_type")
            and all(adapter.get(key) == value for key, value in row.peft_options)]
    return max(rows, key=lambda row: len(row.peft_options)).name if rows else None


def load_trained_model(run_dir: str, base_model_name_or_path: str | None = None,
                       loading: ModelLoadingArguments | None = None):
    """(model, tokenizer, method row) for the run in `run_dir`; `base_model_name_or_path` overrides the recorded
    base (a run records the path it was trained from, which may not exist on this machine)."""
    if not os.path.isdir(run_dir):
        raise BadInputError(f"run folder {run_dir} does not exist")
    method, recorded_base = detect_method(run_dir)
    base_name = run_dir if method.run_is_model else (base_model_name_or_path or recorded_base)
    if base_name is None:
        raise BadInputError(f"{run_dir} does not record its base model; pass --base_model")
    has_tokenizer = os.path.isfile(os.path.join(run_dir, "tokenizer_config.json"))
    try:
        base, tokenizer = load_base_model(base_name, loading, tokenizer_name=run_dir if has_tokenizer else None,
                                          what=f"the base model of {run_dir}")
    except BadInputError as error:
        raise BadInputError(f"{error}; pass --base_model if it lives elsewhere on this machine") from error
    try:
        model = method.load_run(base, run_dir)
    except RuntimeError as error:  # torch's size mismatch: weights trained on a base of another shape
        raise BadInputError(f"{run_dir} does not fit the base model '{base_name}' ({mismatch_line(error)}); pass "
                            "--base_model with the model it was trained on") from error
    return model.eval(), tokenizer, method


def mismatch_line(error: RuntimeError) -> str:
    """The informative line of torch's multi-line load_state_dict error (its first line names no tensor)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return next((line for line in lines if "size mismatch" in line), lines[0] if lines else type(error).__name__)
