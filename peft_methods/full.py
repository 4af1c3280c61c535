"""Full fine-tuning: every weight trains. The reference point for the other methods' cost and quality."""

from __future__ import annotations

import os

from transformers.utils import CONFIG_NAME, GENERATION_CONFIG_NAME

from core.errors import BadInputError

from .base import Method


def build_full_model(base_model, config=None, tokenizer=None):
    base_model.requires_grad_(True)
    return base_model


def load_full_weights(model, checkpoint_dir: str) -> None:
    """Restore a folder written by `save_pretrained` into `model` (resuming, or the best checkpoint at the end).

    transformers' own loader reads it, not a raw state dict: it finds one file or the shards of a large model,
    and undoes the key renames some architectures apply on save (GPT-NeoX writes `lm_head.weight` as
    `embed_out.weight`), so the keys always match the model's. It costs a second copy of the weights for the
    moment of the copy, as Trainer's own best-model loading does."""
    if not os.path.isfile(os.path.join(checkpoint_dir, CONFIG_NAME)):
        raise BadInputError(f"{checkpoint_dir} holds no model ({CONFIG_NAME} missing)")
    try:  # read into this model's own architecture (its config), so weights that do not fit it are reported
        saved, info = type(model).from_pretrained(checkpoint_dir, config=model.config, dtype=model.dtype,
                                                  output_loading_info=True)
    except (OSError, ValueError, RuntimeError) as error:
        raise BadInputError(f"{checkpoint_dir}: cannot load its weights ({str(error).splitlines()[0]})") from error
    # from_pretrained fills a missing weight with a random one; here that would silently undo training.
    if info["missing_keys"] or info["unexpected_keys"] or info["mismatched_keys"]:
        raise BadInputError(f"{checkpoint_dir}: weights do not match this model (same --model_name_or_path?)")
    model.load_state_dict(saved.state_dict())


METHOD = Method(
    name="full",
    description="full fine-tuning: all weights train",
    build=build_full_model,
    save=lambda model, output_dir: model.save_pretrained(output_dir),
    load=load_full_weights,
    load_run=lambda model, run_dir: model,  # the run folder is the model: it was loaded as the base
    # A complete model folder (one file or the shards of a large model): from_pretrained(run_dir) loads it.
    saved_files=("model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json", CONFIG_NAME,
                 GENERATION_CONFIG_NAME),
    run_is_model=True,
    load_code="model = AutoModelForCausalLM.from_pretrained(REPO_OR_DIR)",
    learning_rate=5e-5,
    learning_rates=(1e-5, 3e-5, 1e-4),
)
