"""The zero-shot baseline: the base model as it is, with the same prompt format. Nothing trains."""

from __future__ import annotations

from .base import LOAD_BASE_MODEL, METHOD_CONFIG_NAME, Method, freeze, write_method_config


def build_zero_shot_model(base_model, config=None, tokenizer=None):
    freeze(base_model)
    return base_model


METHOD = Method(
    name="zero-shot",
    description="zero-shot baseline: the untuned base model prompted with article + separator",
    build=build_zero_shot_model,
    # The run folder records what it is (no weights: the base model is the model).
    save=lambda model, output_dir: write_method_config(
        output_dir, {"method": "zero-shot", "base_model_name_or_path": model.config.name_or_path}),
    load=lambda model, checkpoint_dir: None,
    load_run=lambda model, run_dir: model,
    trains=False,
    saved_files=(METHOD_CONFIG_NAME,),
    load_code=LOAD_BASE_MODEL,
)
