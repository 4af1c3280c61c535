"""(IA)^3 (Liu et al. 2022, "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than In-Context
Learning") through PEFT's `IA3Config`: learned vectors that rescale the keys, values and feed-forward
activations of a frozen model. Far fewer parameters than LoRA (GPT-2 small: 64,512, against 4.7M for LoRA at
r=128) and no rank to choose; the adapter is saved in PEFT's own format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peft import IA3Config, get_peft_model
from peft.utils import (
    TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING,
    TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING,
)
from transformers.pytorch_utils import Conv1D

from core import BadInputError

from .base import PEFT_ADAPTER_FILES, Method, peft_adapter_run
from .lora import load_peft_adapter_weights, matching_modules


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


def build_ia3_model(base_model, config: IA3MethodConfig, tokenizer=None):
    model_type = base_model.config.model_type
    targets = config.ia3_target_modules or TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING.get(model_type)
    feedforward = config.ia3_feedforward_modules
    if feedforward is None:
        feedforward = TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING.get(model_type, [])
    if not targets:
        raise BadInputError(f"PEFT has no default (IA)^3 targets for model type '{model_type}'; "
                            "pass --ia3_target_modules")
    if not set(feedforward) <= set(targets):
        raise BadInputError(f"--ia3_feedforward_modules {' '.join(feedforward)} must be among --ia3_target_modules "
                            f"{' '.join(targets)}")
    # PEFT matches "mlp.c_proj" as a name suffix; the last component is enough to find the module type.
    matched = matching_modules(base_model, [name.split(".")[-1] for name in targets])
    if not matched:
        raise BadInputError(f"--ia3_target_modules {' '.join(targets)}: no such module in {model_type}")
    ia3_config = IA3Config(
        task_type="CAUSAL_LM", target_modules=list(targets), feedforward_modules=list(feedforward),
        # GPT-2's Conv1D stores weights as (fan_in, fan_out); nn.Linear the other way round.
        fan_in_fan_out=isinstance(matched[0], Conv1D),
    )
    return get_peft_model(base_model, ia3_config)


METHOD = Method(
    name="ia3",
    description="(IA)^3: learned rescaling of keys, values and feed-forward activations, base model frozen (PEFT)",
    config_class=IA3MethodConfig,
    build=build_ia3_model,
    save=lambda model, output_dir: model.save_pretrained(output_dir),
    load=load_peft_adapter_weights,
    load_run=peft_adapter_run,
    saved_files=PEFT_ADAPTER_FILES,
    peft_type="IA3",
    # Scaling vectors start at 1 and need larger steps than LoRA's (the paper used 3e-3).
    learning_rate=3e-3,
    learning_rates=(1e-3, 3e-3, 1e-2),
)
