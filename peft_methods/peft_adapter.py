"""What every row whose adapter PEFT builds shares: its target modules found on the model, PEFT's format on disk,
PEFT's own loader. A new PEFT method is its config dataclass, a function from that to PEFT's config, and one
`peft_adapter_method(...)` call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from peft import PeftConfig, get_peft_model
from peft.utils import INCLUDE_LINEAR_LAYERS_SHORTHAND, load_peft_weights, set_peft_model_state_dict
from torch import nn
from transformers.pytorch_utils import Conv1D

from core.errors import BadInputError

from .base import PEFT_ADAPTER_FILES, Method, peft_adapter_run


def find_targets(base_model: nn.Module, given: list[str] | None, defaults: Mapping[str, list[str]],
                 flag: str) -> tuple[list[str] | str, list[nn.Module]]:
    """(the targets as PEFT takes them, the modules they name): `given`, else PEFT's default for the architecture."""
    model_type = base_model.config.model_type
    targets = list(given or defaults.get(model_type) or [])
    if not targets:
        raise BadInputError(f"PEFT has no default --{flag} for model type '{model_type}'; pass --{flag}")
    if targets == [INCLUDE_LINEAR_LAYERS_SHORTHAND]:
        head = base_model.get_output_embeddings()  # PEFT leaves the LM head out of all-linear
        matched = [m for m in base_model.modules() if isinstance(m, (nn.Linear, Conv1D)) and m is not head]
        # PEFT expands the string itself (a list would be read as a module named "all-linear").
        return INCLUDE_LINEAR_LAYERS_SHORTHAND, matched
    # PEFT matches "mlp.c_proj" as a name suffix; the last component is enough to find the module's type.
    last = {name.split(".")[-1] for name in targets}
    matched = [module for name, module in base_model.named_modules() if name.split(".")[-1] in last]
    if not matched:
        adaptable = sorted({name.split(".")[-1] for name, module in base_model.named_modules()
                            if isinstance(module, (nn.Linear, Conv1D))})
        raise BadInputError(f"--{flag} {' '.join(targets)}: no such module in {model_type}; choose from: "
                            f"{' '.join(adaptable)} (or all-linear)")
    return targets, matched


def load_peft_adapter_weights(model, checkpoint_dir: str) -> None:
    """Restore a PEFT adapter checkpoint into the PeftModel `build` made (resume, best model)."""
    result = set_peft_model_state_dict(model, load_peft_weights(checkpoint_dir))
    if result.unexpected_keys:
        raise BadInputError(f"{checkpoint_dir}: adapter does not match this model ({result.unexpected_keys[:3]}...)")


def peft_adapter_method(*, name: str, description: str, config_class: type, peft_type: str,
                        peft_config: Callable[..., PeftConfig], targets_flag: str, default_targets: Mapping,
                        learning_rate: float, learning_rates: tuple[float, ...], peft_options: Mapping | None = None,
                        compared_by_default: bool = True) -> Method:
    """The row of a method PEFT builds. `peft_config(config, model_type, targets, fan_in_fan_out, **peft_options)`
    makes PEFT's config; `peft_options` are also what tells this method's saved adapters from others of its
    `peft_type` (DoRA's use_dora among LoRA adapters)."""
    peft_options = dict(peft_options or {})

    def build(base_model, config, tokenizer=None):
        targets, matched = find_targets(base_model, getattr(config, targets_flag), default_targets, targets_flag)
        # GPT-2's Conv1D stores weights as (fan_in, fan_out); nn.Linear (GPT-Neo, Llama) the other way round.
        fan_in_fan_out = isinstance(matched[0], Conv1D)
        return get_peft_model(base_model, peft_config(config, base_model.config.model_type, targets, fan_in_fan_out,
                                                      **peft_options))

    return Method(
        name=name, description=description, config_class=config_class, build=build,
        save=lambda model, output_dir: model.save_pretrained(output_dir), load=load_peft_adapter_weights,
        load_run=peft_adapter_run, saved_files=PEFT_ADAPTER_FILES, peft_type=peft_type,
        peft_options=tuple(peft_options.items()), learning_rate=learning_rate, learning_rates=learning_rates,
        compared_by_default=compared_by_default,
    )
