"""Lead-N baselines: the article's first N sentences are its summary. No model; `baselines/lead.py` runs them."""

from __future__ import annotations

from .base import Method


def lead_baseline(num_sentences: int) -> Method:
    return Method(
        name=f"lead-{num_sentences}",
        description=f"the article's first {num_sentences} sentence{'s' if num_sentences > 1 else ''}, no model",
        trains=False,
        load_code=None,
        command=f"python -m baselines.lead --num_sentences {num_sentences}",
    )
