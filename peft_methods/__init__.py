"""The methods this project compares, one small module each, registered in one table.

Adding a method: write `peft_methods/<name>.py` with a config dataclass and a `METHOD = Method(...)`,
then add one line to `METHODS`. `BASELINES` are rows that do not train (evaluated with the same code).
"""

from . import full, head, lora, soft_prompt, zero_shot
from .base import Method, count_parameters
from .head import HeadConfig
from .lora import LoraMethodConfig
from .soft_prompt import SoftPromptConfig, SoftPromptModel

METHODS: dict[str, Method] = {
    "prompt": soft_prompt.METHOD,
    "lora": lora.METHOD,
    "head": head.METHOD,
    "full": full.METHOD,
}

BASELINES: dict[str, Method] = {
    "zero-shot": zero_shot.METHOD,
}

METHOD_CONFIG_CLASSES = [method.config_class for method in METHODS.values() if method.config_class is not None]

__all__ = [
    "BASELINES",
    "METHODS",
    "METHOD_CONFIG_CLASSES",
    "HeadConfig",
    "LoraMethodConfig",
    "Method",
    "SoftPromptConfig",
    "SoftPromptModel",
    "count_parameters",
]
