"""Dynamic padding for tokenized summarization examples.

Padding is marked by the attention mask and by -100 labels, by position, never by token id:
GPT-2 pads with EOS, and masking EOS ids would stop the model from ever learning to end a summary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .tokenization import IGNORE_INDEX


def pad_sequences(sequences: list[list[int]], value: int, side: str) -> torch.Tensor:
    length = max(len(s) for s in sequences)
    rows = [
        (s + [value] * (length - len(s))) if side == "right" else ([value] * (length - len(s)) + s)
        for s in sequences
    ]
    return torch.tensor(rows, dtype=torch.long)


def attention_masks(sequences: list[list[int]], side: str) -> torch.Tensor:
    return pad_sequences([[1] * len(s) for s in sequences], 0, side)


@dataclass
class SummarizationCollator:
    """Pads `input_ids`/`labels` on the right for the loss and, when asked, `prompt_input_ids` on the left for
    generation (which continues from the last position)."""

    pad_token_id: int
    with_prompts: bool = False

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        input_ids = [f["input_ids"] for f in features]
        batch = {
            "input_ids": pad_sequences(input_ids, self.pad_token_id, "right"),
            "attention_mask": attention_masks(input_ids, "right"),
            "labels": pad_sequences([f["labels"] for f in features], IGNORE_INDEX, "right"),
        }
        if self.with_prompts:
            prompts = [f["prompt_input_ids"] for f in features]
            batch["prompt_input_ids"] = pad_sequences(prompts, self.pad_token_id, "left")
            batch["prompt_attention_mask"] = attention_masks(prompts, "left")
        return batch
