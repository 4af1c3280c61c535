"""LoRA through PEFT's `LoraConfig`; the adapter is saved in PEFT's own format."""

from __future__ import annotations

from dataclasses import dataclass, field

from peft import LoraConfig, get_peft_model
from peft.utils import (
    INCLUDE_LINEAR_LAYERS_SHORTHAND,
    TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING,
    load_peft_weights,
    set_peft_model_state_dict,
)
from torch import nn
from transformers.pytorch_utils import Conv1D

from core.errors import BadInputError

from .base import PEFT_ADAPTER_FILES, Method, peft_adapter_run


@dataclass
class LoraMethodConfig:
    lora_r: int = field(default=16, metadata={"help": "LoRA rank r."})
    lora_alpha: float = field(default=32, metadata={"help": "LoRA scaling numerator (update scaled by alpha/r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    lora_target_modules: list[str] | None = field(
        default=None,
        metadata={"help": "Module names to adapt (e.g. c_attn c_proj for GPT-2, q_proj k_proj v_proj o_proj for "
                          "Llama), or all-linear for every linear layer but the LM head. Default: PEFT's default "
                          "for the architecture (GPT-2: c_attn; Llama, Qwen2: q_proj v_proj)."},
    )

    def __post_init__(self):
        if self.lora_r < 1:
            raise BadInputError(f"--lora_r must be at least 1 (got {self.lora_r})")
        if not 0 <= self.lora_dropout < 1:
            raise BadInputError(f"--lora_dropout must be in [0, 1) (got {self.lora_dropout})")
        targets = self.lora_target_modules or []
        if INCLUDE_LINEAR_LAYERS_SHORTHAND in targets and len(targets) > 1:
            raise BadInputError(f"--lora_target_modules {' '.join(targets)}: all-linear already means every linear "
                                "layer; pass it alone or list module names")


def default_target_modules(model: nn.Module) -> list[str]:
    targets = TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(model.config.model_type)
    if targets is None:
        raise BadInputError(
            f"PEFT has no default LoRA targets for model type '{model.config.model_type}'; pass --lora_target_modules"
        )
    return list(targets)


def matching_modules(model: nn.Module, targets: list[str]) -> list[nn.Module]:
    return [module for name, module in model.named_modules() if name.split(".")[-1] in targets]


def build_lora_model(base_model, config: LoraMethodConfig, tokenizer=None):
    targets = config.lora_target_modules or default_target_modules(base_model)
    if targets == [INCLUDE_LINEAR_LAYERS_SHORTHAND]:
        # PEFT expands the string itself (a list would be read as a module named "all-linear").
        targets = INCLUDE_LINEAR_LAYERS_SHORTHAND
        head = base_model.get_output_embeddings()  # PEFT leaves the LM head out of all-linear
        matched = [m for m in base_model.modules() if isinstance(m, (nn.Linear, Conv1D)) and m is not head]
    else:
        matched = matching_modules(base_model, targets)
    if not matched:
        adaptable = sorted({name.split(".")[-1] for name, module in base_model.named_modules()
                            if isinstance(module, (nn.Linear, Conv1D))})
        raise BadInputError(
            f"--lora_target_modules {' '.join(targets)}: no such module in {base_model.config.model_type}; "
            f"choose from: {' '.join(adaptable)} (or all-linear)"
        )
    lora_config = LoraConfig(
        task_type="CAUSAL_LM",
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        # GPT-2's Conv1D stores weights as (fan_in, fan_out); nn.Linear (GPT-Neo, Llama) the other way round.
        fan_in_fan_out=isinstance(matched[0], Conv1D),
    )
    return get_peft_model(base_model, lora_config)


def load_peft_adapter_weights(model, checkpoint_dir: str) -> None:
    """Restore a PEFT adapter checkpoint into the PeftModel `build` made (resume, best model)."""
    result = set_peft_model_state_dict(model, load_peft_weights(checkpoint_dir))
    if result.unexpected_keys:
        raise BadInputError(f"{checkpoint_dir}: adapter does not match this model ({result.unexpected_keys[:3]}...)")


METHOD = Method(
    name="lora",
    description="LoRA: low-rank updates to the attention projections, base model frozen (PEFT)",
    config_class=LoraMethodConfig,
    build=build_lora_model,
    save=lambda model, output_dir: model.save_pretrained(output_dir),
    load=load_peft_adapter_weights,
    load_run=peft_adapter_run,
    saved_files=PEFT_ADAPTER_FILES,
    peft_type="LORA",
    learning_rate=1e-3,
    learning_rates=(3e-4, 1e-3, 3e-3),
)
