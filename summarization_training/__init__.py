"""Training: `Trainer` subclass and argument defaults for summarization with any method."""

from .arguments import SummarizationTrainingArguments
from .trainer import SummarizationTrainer

__all__ = ["SummarizationTrainer", "SummarizationTrainingArguments"]
