"""Dynamic padding for tokenized summarization examples.

Padding is marked by the attention mask and by -100 labels, by position, never by token id:
GPT-2 pads with EOS, and masking EOS ids would stop the model from ever learning to end a summary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .tokenization import IGNORE_INDEX


def pad_sequences(sequences: list[list[int]], value: int, side: str, multiple_of: int | None) -> torch.Tensor:
    length = max(len(s) for s in sequences)
    if multiple_of:
        length = -(-length // multiple_of) * multiple_of
    rows = [
        (s + [value] * (length - len(s))) if side == "right" else ([value] * (length - len(s)) + s)
        for s in sequences
    ]
    return torch.tensor(rows, dtype=torch.long)


def attention_masks(sequences: list[list[int]], side: str, multiple_of: int | None) -> torch.Tensor:
    return pad_sequences([[1] * len(s) for s in sequences], 0, side, multiple_of)


@dataclass
class SummarizationCollator:
    """Pads `input_ids`/`labels` for the loss and, when asked, `prompt_input_ids` (left-padded) for generation."""

    pad_token_id: int
    padding_side: str = "right"
    pad_to_multiple_of: int | None = None
    with_prompts: bool = False

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        input_ids = [f["input_ids"] for f in features]
        batch = {
            "input_ids": pad_sequences(input_ids, self.pad_token_id, self.padding_side, self.pad_to_multiple_of),
            "attention_mask": attention_masks(input_ids, self.padding_side, self.pad_to_multiple_of),
            "labels": pad_sequences([f["labels"] for f in features], IGNORE_INDEX, self.padding_side,
                                    self.pad_to_multiple_of),
        }
        if self.with_prompts:
            # Generation continues from the last position, so prompts are always left-padded.
            prompts = [f["prompt_input_ids"] for f in features]
            batch["prompt_input_ids"] = pad_sequences(prompts, self.pad_token_id, "left", None)
            batch["prompt_attention_mask"] = attention_masks(prompts, "left", None)
        return batch
