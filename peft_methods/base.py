"""What every method provides, and the helpers they share."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

METHOD_CONFIG_NAME = "method_config.json"


@dataclass(frozen=True)
class Method:
    """One row of the `METHODS` table.

    build(base_model, config, tokenizer) -> the model Trainer trains (base weights frozen as the method needs)
    save(model, output_dir) -> writes only what trained (never a copy of frozen base weights)
    load(model, checkpoint_dir) -> restores what `save` wrote into a model made by `build`
    """

    name: str
    config_class: type | None
    build: Callable[..., nn.Module]
    save: Callable[[nn.Module, str], None]
    load: Callable[[nn.Module, str], None]
    description: str


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total); tied weights are one parameter and are counted once."""
    trainable = total = 0
    for parameter in model.parameters():
        total += parameter.numel()
        if parameter.requires_grad:
            trainable += parameter.numel()
    return trainable, total


def freeze(model: nn.Module) -> None:
    for parameter in model.parameters():
        parameter.requires_grad_(False)


def write_method_config(output_dir: str, payload: dict) -> None:
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, METHOD_CONFIG_NAME), "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)


def read_method_config(checkpoint_dir: str) -> dict:
    with open(os.path.join(checkpoint_dir, METHOD_CONFIG_NAME)) as handle:
        return json.load(handle)
