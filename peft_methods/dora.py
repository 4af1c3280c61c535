"""DoRA (Liu et al. 2024, "Weight-Decomposed Low-Rank Adaptation") through PEFT's `LoraConfig(use_dora=True)`:
each adapted weight is split into a direction, updated by LoRA's low-rank product, and a learned magnitude per
output. LoRA's flags and targets, plus one vector per adapted layer; saved in PEFT's format.
"""

from __future__ import annotations

from .lora import LORA_ADAPTER
from .peft_adapter import peft_adapter_method

METHOD = peft_adapter_method(
    name="dora",
    description="DoRA: LoRA's low-rank direction update plus a learned magnitude per output, base frozen (PEFT)",
    **LORA_ADAPTER,
    peft_options={"use_dora": True},
    # The paper trains DoRA at LoRA's learning rates.
    learning_rate=1e-3,
    learning_rates=(3e-4, 1e-3, 3e-3),
    compared_by_default=False,
)
