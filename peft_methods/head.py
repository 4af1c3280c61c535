""""Traditional" fine-tuning: only the LM head (optionally also the last N transformer blocks) trains.

GPT-2 and small Llamas (SmolLM2) tie the LM head to the input embeddings: one matrix. Training the tied
matrix would also change every input embedding and need gradients through all blocks, so by default the
head is untied into its own copy and the embeddings stay frozen. A model that does not tie (most larger
Llamas) already has its own head, which trains as it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from safetensors.torch import load_file, save_file
from torch import nn

from core.errors import BadInputError

from .base import METHOD_CONFIG_NAME, Method, freeze, read_method_config, write_method_config

WEIGHTS_NAME = "trainable_weights.safetensors"


@dataclass
class HeadConfig:
    unfreeze_last_n_blocks: int = field(
        default=0, metadata={"help": "Also train the last N transformer blocks (head method only)."}
    )
    untie_lm_head: bool = field(
        default=True,
        metadata={"help": "Give the LM head its own copy of the tied embedding matrix so the input embeddings "
                          "stay frozen. --untie_lm_head false trains the tied matrix (embeddings change too)."},
    )

    def __post_init__(self):
        if self.unfreeze_last_n_blocks < 0:
            raise BadInputError(f"--unfreeze_last_n_blocks must be >= 0 (got {self.unfreeze_last_n_blocks})")


def transformer_blocks(model: nn.Module) -> nn.ModuleList:
    """The stack of decoder blocks, found by shape so GPT-2, GPT-Neo and Llama-style models all work."""
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == model.config.num_hidden_layers:
            return module
    raise BadInputError(f"cannot find the transformer blocks of {type(model).__name__}")


def untie_lm_head(model: nn.Module) -> None:
    head = model.get_output_embeddings()
    # Only a tied head needs a copy; an untied one is its own matrix already (a copy would only cost memory).
    if head.weight is model.get_input_embeddings().weight:
        head.weight = nn.Parameter(head.weight.detach().clone())
    # transformers re-ties whatever the config and `all_tied_weights_keys` (computed at construction) still
    # list, e.g. `tie_weights()` after loading; a saved copy of the model must reload untied as well.
    model.config.tie_word_embeddings = False
    if hasattr(model.config, "get_text_config"):
        model.config.get_text_config().tie_word_embeddings = False
    if hasattr(model, "get_expanded_tied_weights_keys"):
        model.all_tied_weights_keys = model.get_expanded_tied_weights_keys(all_submodels=True)


def build_head_model(base_model, config: HeadConfig, tokenizer=None):
    blocks = transformer_blocks(base_model)
    if config.unfreeze_last_n_blocks > len(blocks):
        raise BadInputError(
            f"--unfreeze_last_n_blocks {config.unfreeze_last_n_blocks} exceeds the model's {len(blocks)} blocks"
        )
    if config.untie_lm_head:
        untie_lm_head(base_model)
    freeze(base_model)
    base_model.get_output_embeddings().weight.requires_grad_(True)
    for block in list(blocks)[len(blocks) - config.unfreeze_last_n_blocks:]:
        block.requires_grad_(True)
    base_model.head_config = config
    return base_model


def save_head_weights(model, output_dir: str) -> None:
    os.makedirs(output_dir, exist_ok=True)
    # named_parameters() lists a tied matrix once, so safetensors never sees shared storage.
    trained = {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}
    save_file(trained, os.path.join(output_dir, WEIGHTS_NAME), metadata={"format": "pt"})
    write_method_config(output_dir, {
        "method": "head",
        "base_model_name_or_path": model.config.name_or_path,
        "unfreeze_last_n_blocks": model.head_config.unfreeze_last_n_blocks,
        "untie_lm_head": model.head_config.untie_lm_head,
        "trained_parameters": sorted(trained),
    })


def load_head_weights(model, checkpoint_dir: str) -> None:
    path = os.path.join(checkpoint_dir, WEIGHTS_NAME)
    if not os.path.isfile(path):
        raise BadInputError(f"{checkpoint_dir} holds no head weights ({WEIGHTS_NAME} missing)")
    saved = read_method_config(checkpoint_dir)
    unexpected = model.load_state_dict(load_file(path), strict=False).unexpected_keys
    if unexpected or saved["untie_lm_head"] != model.head_config.untie_lm_head:
        raise BadInputError(f"{checkpoint_dir}: head weights do not match this model/method settings")


def load_head_run(base_model, run_dir: str):
    saved = read_method_config(run_dir)
    model = build_head_model(base_model, HeadConfig(saved["unfreeze_last_n_blocks"], saved["untie_lm_head"]))
    load_head_weights(model, run_dir)
    return model


METHOD = Method(
    name="head",
    description="last-layer fine-tuning: the LM head (untied) and optionally the last blocks",
    config_class=HeadConfig,
    build=build_head_model,
    save=save_head_weights,
    load=load_head_weights,
    load_run=load_head_run,
    saved_files=(WEIGHTS_NAME, METHOD_CONFIG_NAME),
    # Neither transformers nor PEFT loads a bare head: the card points to this project's loader.
    load_code="from peft_methods.loading import load_trained_model  # this project's code\n"
              "model = load_trained_model(REPO_OR_DIR)[0]  # base model + the trained head weights (a local "
              "folder: huggingface_hub.snapshot_download a repo id first)",
    learning_rate=2e-4,
    learning_rates=(1e-4, 3e-4, 1e-3),
)
