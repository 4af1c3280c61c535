"""Dynamic padding for tokenized summarization examples: `input_ids`/`labels` on the right, for the loss.

Padding is marked by the attention mask and by -100 labels, by position, never by token id:
GPT-2 pads with EOS, and masking EOS ids would stop the model from ever learning to end a summary.
Generation prompts are padded on the left by `summary_generation` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from summary_generation.padding import attention_masks, pad_sequences

from .tokenization import IGNORE_INDEX


@dataclass
class SummarizationCollator:
    pad_token_id: int

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        input_ids = [f["input_ids"] for f in features]
        return {
            "input_ids": pad_sequences(input_ids, self.pad_token_id, "right"),
            "attention_mask": attention_masks(input_ids, "right"),
            "labels": pad_sequences([f["labels"] for f in features], IGNORE_INDEX, "right"),
        }
