"""Summary generation, one path for every caller: the prompt layout (`prompt`), left padding (`padding`), the saved
settings (`settings`, the run's generation_config.json) and the loop (`generate.generate_summaries`), where the
precision of decoding is decided. It sits just above `core`: training, summarize.py and the benchmark use it; it
uses none of them."""

from .generate import GeneratedSummaries, Summaries, generate_summaries
from .prompt import (
           PromptFormat,
           chat_prompt_format,
           generation_prompt,
           load_prompt_format,
           save_prompt_format,
)
from .settings import SummarySettings

__all__ = ["GeneratedSummaries", "PromptFormat", "Summaries", "SummarySettings", "chat_prompt_format", "generate_summaries",
           "generation_prompt", "load_prompt_format", "save_prompt_format"]
