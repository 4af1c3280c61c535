"""Data for summarization: CSV loading and cleaning, the BBC News corpus, tokenization, batching."""

from .collator import SummarizationCollator
from .loading import load_summarization_splits
from .tokenization import tokenize_splits

__all__ = [
    "SummarizationCollator",
    "load_summarization_splits",
    "tokenize_splits",
]
