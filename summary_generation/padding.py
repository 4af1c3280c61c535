"""Padding token-id lists into a batch. Padding is marked by the attention mask (and -100 labels), by position,
never by token id: GPT-2 pads with EOS, and masking EOS ids would stop a model from ever learning to end a
summary. Generation pads on the left: it continues from the last position of every row."""

from __future__ import annotations

import torch


def pad_sequences(sequences: list[list[int]], value: int, side: str) -> torch.Tensor:
    length = max(len(s) for s in sequences)
    rows = [
        (list(s) + [value] * (length - len(s))) if side == "right" else ([value] * (length - len(s)) + list(s))
        for s in sequences
    ]
    return torch.tensor(rows, dtype=torch.long)


def attention_masks(sequences: list[list[int]], side: str) -> torch.Tensor:
    return pad_sequences([[1] * len(s) for s in sequences], 0, side)


def left_padded(prompts: list[list[int]], pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) of generation prompts."""
    return pad_sequences(prompts, pad_token_id, "left"), attention_masks(prompts, "left")
