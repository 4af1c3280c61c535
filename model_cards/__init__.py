"""Model cards for run folders, written with `huggingface_hub`'s `ModelCard`, and pushing runs to the Hub."""

from .card import build_model_card, write_model_card
from .hub import files_to_upload, push_run_to_hub

__all__ = ["build_model_card", "files_to_upload", "push_run_to_hub", "write_model_card"]
