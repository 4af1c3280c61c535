"""Evaluation metrics for the summarization pipeline.

``load_rouge()`` loads the offline ROUGE metric shipped in ``metrics/rouge/rouge.py`` (no Hub access, no
nltk downloads); ``split_sentences`` is the download-free sentence splitter it uses for ROUGE-Lsum.
"""

from __future__ import annotations

from pathlib import Path

from .rouge.sentences import split_sentences

__all__ = ["ROUGE_METRIC_PATH", "load_rouge", "split_sentences"]

#: Absolute path of the local ``evaluate`` ROUGE module directory (``<dir>/rouge.py``).
ROUGE_METRIC_PATH = str(Path(__file__).resolve().parent / "rouge")


def load_rouge(**load_kwargs):
    """Return ``evaluate.load(ROUGE_METRIC_PATH, **load_kwargs)``; works offline and from any cwd.

    Call ``.compute(predictions=[...], references=[...], use_stemmer=True, use_aggregator=True,
    n_bootstrap=1000, seed=0)`` on the result; see ``metrics/rouge/rouge.py`` for the returned keys.
    """
    import evaluate  # imported lazily: ``from metrics import split_sentences`` stays lightweight

    return evaluate.load(ROUGE_METRIC_PATH, **load_kwargs)
