"""LoRA through PEFT's `LoraConfig`; the adapter is saved in PEFT's own format."""

from __future__ import annotations

from dataclasses import dataclass, field

from peft import LoraConfig
from peft.utils import INCLUDE_LINEAR_LAYERS_SHORTHAND, TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING

from core.errors import BadInputError

from .peft_adapter import peft_adapter_method


@dataclass
class LoraMethodConfig:
    # r=128 is the assignment's setting (GPT-2 small: 4.7M trainable parameters, 3.8% of the model).
    lora_r: int = field(default=128, metadata={"help": "LoRA rank r."})
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


def lora_peft_config(config: LoraMethodConfig, model_type: str, targets, fan_in_fan_out: bool, **options):
    return LoraConfig(task_type="CAUSAL_LM", r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=targets, fan_in_fan_out=fan_in_fan_out,
                      **options)


# What every row built on LoRA's flags shares (DoRA adds one PEFT option to it).
LORA_ADAPTER = dict(config_class=LoraMethodConfig, peft_type="LORA", peft_config=lora_peft_config,
                    targets_flag="lora_target_modules",
                    default_targets=TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING)

METHOD = peft_adapter_method(
    name="lora",
    description="LoRA: low-rank updates to the attention projections, base model frozen (PEFT)",
    **LORA_ADAPTER,
    learning_rate=1e-3,
    learning_rates=(3e-4, 1e-3, 3e-3),
)
