"""Forgetting: what training cost the model's language modelling outside the task.

The language-model loss (cross-entropy per token) on held-out general text, the test articles' own text (never
their summaries, never seen in training), for the trained model with its method applied and for the untouched
base model. Full fine-tuning and an untied head change the model itself; prompt tuning, LoRA and (IA)^3 leave
it intact underneath (switched off, the base model is back), but applied they may still shift its predictions.
"""

from __future__ import annotations

import torch

ARTICLES = 64  # held-out articles measured
TOKENS = 128  # the first tokens of each


@torch.no_grad()
def general_text_loss(model, tokenizer, texts: list[str], device=None, batch_size: int = 8) -> float:
    """Token-weighted cross-entropy of `model` on the first TOKENS tokens of the first ARTICLES texts. Each text's
    first token is not scored (the base model has nothing to predict it from), with or without a soft prompt."""
    device = device or next(model.parameters()).device
    encoded = [ids[:TOKENS] for ids in tokenizer(list(texts[:ARTICLES]), add_special_tokens=False)["input_ids"]]
    encoded = [ids for ids in encoded if len(ids) > 1]
    was_training = model.training
    model.eval()
    total_nll, total_tokens = 0.0, 0
    for start in range(0, len(encoded), batch_size):
        rows = encoded[start:start + batch_size]
        width = max(map(len, rows))
        input_ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for index, ids in enumerate(rows):  # right padding, masked by position (pad may equal EOS)
            input_ids[index, :len(ids)] = torch.tensor(ids)
            labels[index, :len(ids)] = torch.tensor(ids)
            attention_mask[index, :len(ids)] = 1
        logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)).logits
        logits = logits[:, -width:]  # a soft prompt's virtual positions come first
        targets = labels[:, 1:].to(device)
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].float().transpose(1, 2), targets,
                                                ignore_index=-100, reduction="sum")
        total_nll += float(nll)
        total_tokens += int((targets != -100).sum())
    if was_training:
        model.train()
    return total_nll / max(total_tokens, 1)
