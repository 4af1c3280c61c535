"""What every row of the registry says about its method, and the helpers the methods share."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

METHOD_CONFIG_NAME = "method_config.json"
# What PEFT's save_pretrained writes (prompt tuning's own wrapper writes the same two files).
PEFT_ADAPTER_CONFIG, PEFT_ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"
PEFT_ADAPTER_FILES = (PEFT_ADAPTER_CONFIG, PEFT_ADAPTER_WEIGHTS)

# The code of a model card's usage snippet that makes `model` (BASE: the base model id; REPO_OR_DIR: the run).
LOAD_PEFT_ADAPTER = ("from peft import PeftModel\n"
                     "base = AutoModelForCausalLM.from_pretrained(BASE)\n"
                     "model = PeftModel.from_pretrained(base, REPO_OR_DIR)")
LOAD_BASE_MODEL = "model = AutoModelForCausalLM.from_pretrained(BASE)"


def no_virtual_tokens(model: nn.Module) -> int:
    return 0


@dataclass(frozen=True)
class Method:
    """One row of the registry: everything that differs between methods, so no other module names one.

    build(base_model, config, tokenizer) -> the model Trainer trains (base weights frozen as the method needs)
    save(model, output_dir) -> writes only what trained (never a copy of frozen base weights): `saved_files`
    load(model, checkpoint_dir) -> restores what `save` wrote into a model made by `build` (resume, best model)
    load_run(base_model, run_dir) -> the finished run's model, ready to generate (summarize.py, the card's code)
    """

    name: str
    description: str
    config_class: type | None = None
    build: Callable[..., nn.Module] | None = None  # None: the row needs no model (lead-N)
    save: Callable[[nn.Module, str], None] | None = None
    load: Callable[[nn.Module, str], None] | None = None
    load_run: Callable[[nn.Module, str], nn.Module] | None = None
    trains: bool = True
    saved_files: tuple[str, ...] = ()  # glob patterns of what `save` writes: a Hub upload takes exactly these
    run_is_model: bool = False  # the run folder is a complete transformers model (its own base)
    peft_type: str | None = None  # PEFT's name for the adapter type: saved in PEFT's format, loads with PEFT
    # (key, value) pairs of PEFT's adapter config that tell this row's adapters from others of its peft_type.
    peft_options: tuple[tuple[str, object], ...] = ()
    load_code: str | None = LOAD_PEFT_ADAPTER  # a card's usage code; None: no model to load
    learning_rate: float | None = None  # what the comparison uses when it does not sweep
    learning_rates: tuple[float, ...] = ()  # the comparison's default sweep: where this method's optimum lies
    command: str = "run_summarization.py"  # what makes a run of this row
    # Positions the method's model puts in front of every input (a soft prompt's): they take room from max_length.
    virtual_tokens: Callable[[nn.Module], int] = no_virtual_tokens
    # In `python -m comparison` without --methods (the demo): a variant of a compared method (DoRA of LoRA) costs
    # a row's time for a question the default comparison does not ask; `--methods NAME` adds it.
    compared_by_default: bool = True

    @property
    def uses_model(self) -> bool:
        return self.build is not None

    @property
    def flags(self) -> tuple[str, ...]:
        """The method's own command-line flags (its config's fields): no other method takes them."""
        return tuple(f.name for f in dataclasses.fields(self.config_class)) if self.config_class else ()

    @property
    def defaults(self) -> dict:
        """What a run of this method uses unless the user says otherwise: the row's learning rate and its flags'
        defaults (None, "PEFT's choice for the architecture", left out). configs/<name>.yaml is written from it."""
        values = {"learning_rate": self.learning_rate} if self.trains and self.learning_rate else {}
        for flag in dataclasses.fields(self.config_class) if self.config_class else ():
            default = flag.default_factory() if flag.default is dataclasses.MISSING else flag.default
            if default is not None and default is not dataclasses.MISSING:
                values[flag.name] = default
        return values

    @property
    def tags(self) -> list[str]:
        """Model-card tags: the method's name, plus PEFT's for an adapter PEFT loads."""
        return [self.name] + (["peft", self.peft_type.lower().replace("_", "-")] if self.peft_type else [])


def peft_adapter_run(base_model: nn.Module, run_dir: str) -> nn.Module:
    """A run saved in PEFT's format, loaded by PEFT itself (the way a user of the Hub repository loads it)."""
    from peft import PeftModel

    return PeftModel.from_pretrained(base_model, run_dir)


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
