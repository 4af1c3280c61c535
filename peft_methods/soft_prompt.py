"""Prompt tuning (Lester et al. 2021) as our own wrapper, saved in PEFT's prompt-tuning format.

Contract kept identical to `peft.PeftModelForCausalLM` so a soft prompt trained here loads with
`PeftModel.from_pretrained(base, run_dir)` and gives the same logits: prompt embeddings are prepended
to the input embeddings, ones to the attention mask and -100 to the labels; the outputs keep the
virtual positions.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import torch
from peft import PromptTuningConfig
from safetensors.torch import load_file, save_file
from torch import nn

from core.errors import BadInputError

from .base import PEFT_ADAPTER_FILES, PEFT_ADAPTER_WEIGHTS, Method, freeze

PROMPT_KEY = "prompt_embeddings"  # the single key PEFT stores for prompt tuning


@dataclass
class SoftPromptConfig:
    num_virtual_tokens: int | None = field(
        default=None,
        metadata={"help": "Soft-prompt length. Default: the number of tokens of --prompt_init_text."},
    )
    prompt_init_text: str = field(
        default="[SUMMARIZE]",
        metadata={"help": "Text whose token embeddings initialise the soft prompt (repeated or cut to length)."},
    )

    def __post_init__(self):
        if self.num_virtual_tokens is not None and self.num_virtual_tokens < 1:
            raise BadInputError(f"--num_virtual_tokens must be at least 1 (got {self.num_virtual_tokens})")
        if not self.prompt_init_text.strip():
            raise BadInputError("--prompt_init_text is empty; give a short task description such as '[SUMMARIZE]'")


def init_token_ids(tokenizer, text: str, num_virtual_tokens: int | None) -> list[int]:
    """PEFT's TEXT init: the text's tokens, repeated or cut to the prompt length."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    length = num_virtual_tokens or len(ids)
    return (ids * math.ceil(length / len(ids)))[:length]


class SoftPromptModel(nn.Module):
    """A frozen causal LM with `num_virtual_tokens` trainable fp32 embeddings in front of every input."""

    main_input_name = "input_ids"

    def __init__(self, base_model: nn.Module, prompt_embeddings: torch.Tensor, peft_config: PromptTuningConfig):
        super().__init__()
        self.base_model = base_model
        freeze(self.base_model)
        # fp32 even over a bf16 base: a prompt of a few thousand numbers updated at lr 1e-2 needs the precision.
        self.prompt_embeddings = nn.Parameter(prompt_embeddings.detach().clone().float())
        self.peft_config = peft_config

    @property
    def config(self):
        return self.base_model.config

    @property
    def num_virtual_tokens(self) -> int:
        return self.prompt_embeddings.shape[0]

    def _prepend_prompt(self, input_ids, attention_mask, inputs_embeds):
        if inputs_embeds is None:
            inputs_embeds = self.base_model.get_input_embeddings()(input_ids)
        batch_size = inputs_embeds.shape[0]
        prompts = self.prompt_embeddings.unsqueeze(0).expand(batch_size, -1, -1).to(inputs_embeds.dtype)
        inputs_embeds = torch.cat((prompts, inputs_embeds), dim=1)
        if attention_mask is not None:
            ones = attention_mask.new_ones(batch_size, self.num_virtual_tokens)
            attention_mask = torch.cat((ones, attention_mask), dim=1)
        return inputs_embeds, attention_mask

    def forward(self, input_ids=None, attention_mask=None, labels=None, inputs_embeds=None, **kwargs):
        inputs_embeds, attention_mask = self._prepend_prompt(input_ids, attention_mask, inputs_embeds)
        if labels is not None:
            ignore = labels.new_full((labels.shape[0], self.num_virtual_tokens), -100)
            labels = torch.cat((ignore, labels), dim=1)
        if "logits_to_keep" in kwargs:
            kwargs["logits_to_keep"] = self._shift_positions(kwargs["logits_to_keep"])
        return self.base_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, labels=labels, **kwargs)

    def _shift_positions(self, logits_to_keep):
        """`logits_to_keep` names positions of the caller's tokens; the virtual tokens come first."""
        if not isinstance(logits_to_keep, torch.Tensor):
            return logits_to_keep  # "the last k positions" is unchanged by a prefix
        if logits_to_keep.dtype == torch.bool:
            prefix = logits_to_keep.new_zeros(*logits_to_keep.shape[:-1], self.num_virtual_tokens)
            return torch.cat((prefix, logits_to_keep), dim=-1)
        return logits_to_keep + self.num_virtual_tokens

    @torch.no_grad()
    def generate(self, input_ids=None, attention_mask=None, **kwargs):
        """Returns prompt ids + new tokens, like `generate(input_ids=...)` of any causal LM (and PEFT's)."""
        inputs_embeds, attention_mask = self._prepend_prompt(input_ids, attention_mask, None)
        # From embeddings, transformers returns only the new tokens.
        new_tokens = self.base_model.generate(inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs)
        return torch.cat((input_ids, new_tokens), dim=1)

    def gradient_checkpointing_enable(self, **kwargs):
        self.base_model.gradient_checkpointing_enable(**kwargs)

    def save_pretrained(self, output_dir: str, **_):
        os.makedirs(output_dir, exist_ok=True)
        self.peft_config.save_pretrained(output_dir)
        tensors = {PROMPT_KEY: self.prompt_embeddings.detach().cpu().contiguous()}
        save_file(tensors, os.path.join(output_dir, PEFT_ADAPTER_WEIGHTS), metadata={"format": "pt"})

    def load_prompt(self, checkpoint_dir: str) -> None:
        path = os.path.join(checkpoint_dir, PEFT_ADAPTER_WEIGHTS)
        if not os.path.isfile(path):
            raise BadInputError(f"{checkpoint_dir} holds no soft prompt ({PEFT_ADAPTER_WEIGHTS} missing)")
        saved = load_file(path)[PROMPT_KEY]
        if saved.shape != self.prompt_embeddings.shape:
            raise BadInputError(
                f"{path}: soft prompt of shape {tuple(saved.shape)} does not fit this model's "
                f"{tuple(self.prompt_embeddings.shape)}; use the same --num_virtual_tokens and base model"
            )
        with torch.no_grad():
            self.prompt_embeddings.copy_(saved)

    @classmethod
    def from_pretrained(cls, base_model: nn.Module, adapter_dir: str) -> SoftPromptModel:
        peft_config = PromptTuningConfig.from_pretrained(adapter_dir)
        hidden = base_model.get_input_embeddings().weight.shape[1]
        model = cls(base_model, torch.zeros(peft_config.num_virtual_tokens, hidden), peft_config)
        model.load_prompt(adapter_dir)
        return model


def build_soft_prompt_model(base_model, config: SoftPromptConfig, tokenizer) -> SoftPromptModel:
    ids = init_token_ids(tokenizer, config.prompt_init_text, config.num_virtual_tokens)
    embeddings = base_model.get_input_embeddings()
    init = embeddings(torch.tensor(ids, device=embeddings.weight.device))
    peft_config = PromptTuningConfig(
        task_type="CAUSAL_LM",
        num_virtual_tokens=len(ids),
        token_dim=embeddings.weight.shape[1],
        num_transformer_submodules=1,
        num_attention_heads=base_model.config.num_attention_heads,
        num_layers=base_model.config.num_hidden_layers,
        prompt_tuning_init="TEXT",
        prompt_tuning_init_text=config.prompt_init_text,
        tokenizer_name_or_path=tokenizer.name_or_path,
        base_model_name_or_path=base_model.config.name_or_path,
    )
    return SoftPromptModel(base_model, init, peft_config)


METHOD = Method(
    name="prompt",
    description="prompt tuning: trainable soft-prompt embeddings in front of a frozen model",
    config_class=SoftPromptConfig,
    build=build_soft_prompt_model,
    save=lambda model, output_dir: model.save_pretrained(output_dir),
    load=lambda model, checkpoint_dir: model.load_prompt(checkpoint_dir),
    load_run=SoftPromptModel.from_pretrained,
    saved_files=PEFT_ADAPTER_FILES,
    peft_type="PROMPT_TUNING",
    virtual_tokens=lambda model: model.num_virtual_tokens,
    # A few thousand numbers moved far from their initial token embeddings: steps 100-1000x LoRA's.
    learning_rate=1e-1,
    learning_rates=(3e-2, 1e-1, 3e-1),
)
