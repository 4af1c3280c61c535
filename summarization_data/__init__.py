"""Data for summarization: CSV loading and cleaning, tokenization, batching, a synthetic corpus."""

from .collator import SummarizationCollator
from .errors import BadInputError
from .loading import load_summarization_splits
from .tokenization import PromptFormat, tokenize_splits

__all__ = [
    "BadInputError",
    "PromptFormat",
    "SummarizationCollator",
    "load_summarization_splits",
    "tokenize_splits",
]
