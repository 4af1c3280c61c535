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

# Batch key of the counts a training step needs on the host (see SummarizationCollator.host_counts).
HOST_COUNTS = "host_counts"


@dataclass
class SummarizationCollator:
    pad_token_id: int
    # Also put under HOST_COUNTS what the Trainer would otherwise read back from the device every step (a sync
    # on CUDA): the batch's non-padding tokens and its longest row's count of summary-predicting positions. Off
    # by default: a model called as model(**batch) must not receive it; SummarizationTrainer turns it on and
    # takes it out before the model is called.
    host_counts: bool = False

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        input_ids = [f["input_ids"] for f in features]
        batch = {
            "input_ids": pad_sequences(input_ids, self.pad_token_id, "right"),
            "attention_mask": attention_masks(input_ids, "right"),
            "labels": pad_sequences([f["labels"] for f in features], IGNORE_INDEX, "right"),
        }
        if self.host_counts:
            batch[HOST_COUNTS] = {
                "non_padding_tokens": sum(len(ids) for ids in input_ids),
                # Position t predicts token t + 1: the positions with a loss are the labelled tokens after the first.
                "summary_width": max(sum(t != IGNORE_INDEX for t in f["labels"][1:]) for f in features),
            }
        return batch
