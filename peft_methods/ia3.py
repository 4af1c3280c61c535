"""(IA)^3 (Liu et al. 2022, "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than In-Context
Learning") through PEFT's `IA3Config`: learned vectors that rescale the keys, values and feed-forward
activations of a frozen model. Far fewer parameters than LoRA (GPT-2 small: 64,512, against 4.7M for LoRA at
r=128) and no rank to choose; the adapter is saved in PEFT's own format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peft import IA3Config
from peft.utils import (
    TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING,
    TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING,
)

from core import BadInputError

from .peft_adapter import peft_adapter_method


@dataclass
class IA3MethodConfig:
    ia3_target_modules: list[str] | None = field(
        default=None,
        metadata={"help": "Modules whose outputs (or, for feed-forward ones, inputs) are rescaled. Default: PEFT's "
                          "for the architecture (GPT-2: c_attn mlp.c_proj; Llama: k_proj v_proj down_proj)."},
    )
    ia3_feedforward_modules: list[str] | None = field(
        default=None,
        metadata={"help": "Which of --ia3_target_modules are feed-forward layers (their input is rescaled). "
                          "Default: PEFT's for the architecture."},
    )


def ia3_peft_config(config: IA3MethodConfig, model_type: str, targets, fan_in_fan_out: bool) -> IA3Config:
    feedforward = config.ia3_feedforward_modules
    if feedforward is None:
        feedforward = TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING.get(model_type, [])
    if isinstance(targets, list) and not set(feedforward) <= set(targets):  # all-linear (a str) holds them all
        raise BadInputError(f"--ia3_feedforward_modules {' '.join(feedforward)} must be among --ia3_target_modules "
                            f"{' '.join(targets)}")
    return IA3Config(task_type="CAUSAL_LM", target_modules=targets, feedforward_modules=list(feedforward),
                     fan_in_fan_out=fan_in_fan_out)


METHOD = peft_adapter_method(
    name="ia3",
    description="(IA)^3: learned rescaling of keys, values and feed-forward activations, base model frozen (PEFT)",
    config_class=IA3MethodConfig,
    peft_type="IA3",
    peft_config=ia3_peft_config,
    targets_flag="ia3_target_modules",
    default_targets=TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING,
    # Scaling vectors start at 1 and need larger steps than LoRA's (the paper used 3e-3).
    learning_rate=3e-3,
    learning_rates=(1e-3, 3e-3, 1e-2),
)
