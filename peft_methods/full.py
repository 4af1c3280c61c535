"""Full fine-tuning: every weight trains. The reference point for the other methods' cost and quality."""

from __future__ import annotations

import os

from safetensors.torch import load_file
from transformers.utils import SAFE_WEIGHTS_NAME

from summarization_data.errors import BadInputError

from .base import Method


def build_full_model(base_model, config=None, tokenizer=None):
    base_model.requires_grad_(True)
    return base_model


def load_full_weights(model, checkpoint_dir: str) -> None:
    path = os.path.join(checkpoint_dir, SAFE_WEIGHTS_NAME)
    if not os.path.isfile(path):
        raise BadInputError(f"{checkpoint_dir} holds no model weights ({SAFE_WEIGHTS_NAME} missing)")
    result = model.load_state_dict(load_file(path), strict=False)
    # save_pretrained drops the tied copy of the embeddings; anything else missing is a mismatch.
    tied = set(getattr(model, "_tied_weights_keys", None) or {})
    if result.unexpected_keys or set(result.missing_keys) - tied:
        raise BadInputError(f"{checkpoint_dir}: weights do not match this model")


METHOD = Method(
    name="full",
    config_class=None,
    build=build_full_model,
    # A complete model folder: loads with AutoModelForCausalLM.from_pretrained(run_dir).
    save=lambda model, output_dir: model.save_pretrained(output_dir),
    load=load_full_weights,
    description="full fine-tuning: all weights train",
)
