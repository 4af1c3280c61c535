"""Model cards for run folders, written with `huggingface_hub`'s `ModelCard`."""

from .card import build_model_card, write_model_card

__all__ = ["build_model_card", "write_model_card"]
