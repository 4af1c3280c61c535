"""A run's `README.md`: Hub metadata (YAML) plus what the method is, what it cost and what it scored."""

from __future__ import annotations

import os

from huggingface_hub import ModelCard, ModelCardData

PEFT_METHODS = {"prompt", "lora"}


def format_number(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def build_model_card(results: dict, hyperparameters: dict, base_model: str, dataset_name: str,
                     method_description: str) -> ModelCard:
    method = results["method"]
    data = ModelCardData(
        base_model=base_model,
        library_name="peft" if method in PEFT_METHODS else "transformers",
        pipeline_tag="text-generation",
        datasets=[dataset_name] if dataset_name else None,
        tags=["summarization", "cnn-dailymail", f"method-{method}"] + (["peft"] if method in PEFT_METHODS else []),
    )
    rows = "\n".join(f"| `{key}` | {format_number(value)} |" for key, value in sorted(results.items()))
    hyper = "\n".join(f"| `{key}` | {format_number(value)} |" for key, value in sorted(hyperparameters.items()))
    body = f"""
# {base_model} fine-tuned for news summarization ({method})

Method: **{method_description}**.

Trainable parameters: {format_number(results.get('trainable_params'))} of {format_number(results.get('total_params'))}
({format_number(results.get('trainable_percent'))}%).

## Results

| metric | value |
|---|---|
{rows}

## Hyperparameters

| name | value |
|---|---|
{hyper}
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


def write_model_card(output_dir: str, **kwargs) -> str:
    path = os.path.join(output_dir, "README.md")
    build_model_card(**kwargs).save(path)
    return path
