"""Data for summarization: the sources (CSVs, `datasets`, BBC News) behind `load_splits`, cleaning, tokenization,
batching."""

from .collator import SummarizationCollator
from .loading import load_summarization_splits
from .sources import DataSource, describe_source, load_splits
from .tokenization import tokenize_splits

__all__ = [
    "DataSource",
    "SummarizationCollator",
    "describe_source",
    "load_splits",
    "load_summarization_splits",
    "tokenize_splits",
]
