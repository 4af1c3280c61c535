"""The one generation loop: evaluation (`SummarizationTrainer`), inference (summarize.py) and the benchmark all
summarize through `generate_summaries`.

Precision, decided once here. Summaries are decoded in the model's own weights' precision with autocast off,
whatever the run trained with. A run under `--bf16` keeps fp32 master weights and trains under autocast
(accelerate wraps the model's `forward` in it). Decoding under that autocast breaks on rotary models: their
cos/sin follow the fp32 hidden state, so the keys come out fp32 while the values are bf16, and the static KV cache,
allocated in the keys' dtype, refuses the values (`index_copy_(): ... Float and ... BFloat16`); with the dynamic
cache it decodes with keys and values in different precisions. It was also inconsistent: a PEFT model's
`generate` reaches the base model's unwrapped `forward` (fp32), a plain model's reaches the autocast wrapper
(bf16). Casting the weights to bf16 for decoding is not an option during training (the fp32 master weights must
survive an evaluation) and would need a second copy of the model. fp32 decoding is at least as accurate, and at
this project's sizes a decoding step costs its per-layer launch overhead, not its arithmetic (NOTES §7: ~100 ms
per step on an H200 whatever the batch), so bf16 would not be faster.

`no_repeat_ngram_size` in transformers bans every n-gram already in `input_ids`, which for a decoder-only model
includes the article: the model could not copy a single 3-word phrase from it, the very thing a news summary
does. (With `inputs_embeds`, as for the soft prompt, the prompt is not in `input_ids`, so the same flag would
behave differently per method.) Here the ban applies to the summary only, the same way for every method.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader
from transformers import LogitsProcessorList, NoRepeatNGramLogitsProcessor

from .padding import left_padded
from .settings import SummarySettings


@dataclass
class Summaries:
    """Generated summaries in prompt order: the text up to the first EOS, and its length in tokens."""

    texts: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)


@dataclass
class GeneratedSummaries:
    """A split's summaries with their references, in dataset order (every example once, on every process): what
    evaluation scores and a run writes to generated_predictions.jsonl, whether a model or a lead baseline made them."""

    ids: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    predictions: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)


def generate_summaries(model, tokenizer, prompts: list[list[int]], settings: SummarySettings, batch_size: int,
                       accelerator=None) -> Summaries:
    """Summaries of `prompts` (unpadded token ids: `summary_generation.prompt.generation_prompt`), in batches of
    `batch_size` left-padded prompts. With an `accelerator` (Trainer's), the prompts are shared between its
    processes and every process returns all the summaries, each once, in order."""
    loader = DataLoader(prompts, batch_size=batch_size, shuffle=False,
                        collate_fn=lambda rows: left_padded(rows, tokenizer.pad_token_id))
    if accelerator is not None:
        loader = accelerator.prepare(loader)
    device = accelerator.device if accelerator is not None else next(model.parameters()).device
    config = settings.generation_config()
    summaries = Summaries()
    was_training = model.training
    model.eval()
    try:
        for input_ids, attention_mask in loader:
            new_tokens = generate_summary_ids(model, input_ids.to(device), attention_mask.to(device), config)
            if accelerator is not None:
                # Equal widths on every process, so batches can be gathered (each prompt exactly once).
                new_tokens = accelerator.pad_across_processes(new_tokens, dim=1, pad_index=tokenizer.pad_token_id)
                new_tokens = accelerator.gather_for_metrics(new_tokens)
            lengths = tokens_before_eos(new_tokens, tokenizer.eos_token_id, tokenizer.pad_token_id)
            summaries.texts += decode_until_eos(new_tokens, tokenizer, lengths)
            summaries.lengths += lengths
    finally:
        model.train(was_training)
    return summaries


class SummaryNoRepeatNGramLogitsProcessor(NoRepeatNGramLogitsProcessor):
    """No repeated n-gram within the generated tokens; the prompt may be quoted freely."""

    def __init__(self, ngram_size: int):
        super().__init__(ngram_size)
        self.prompt_length = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.prompt_length is None:  # the first call sees the prompt and nothing generated yet
            self.prompt_length = input_ids.shape[1]
        return super().__call__(input_ids[:, self.prompt_length:], scores)


def generate_summary_ids(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                         generation_config) -> torch.Tensor:
    """New tokens only (prompt stripped), for one left-padded batch of prompts, in the weights' precision."""
    if generation_config.cache_implementation == "static" and uses_local_attention(model.config):
        # transformers' static cache gives wrong beam-search results once a sequence outgrows a local
        # attention window (GPT-Neo's local layers): such models keep the dynamic cache.
        generation_config = copy.deepcopy(generation_config)
        generation_config.cache_implementation = "dynamic"
    processors = LogitsProcessorList()
    ngram_size = getattr(generation_config, "summary_no_repeat_ngram_size", 0) or 0
    if ngram_size > 0:
        processors.append(SummaryNoRepeatNGramLogitsProcessor(ngram_size))
    with torch.no_grad(), weights_precision(model):
        output = model.generate(input_ids=input_ids, attention_mask=attention_mask,
                                generation_config=generation_config, logits_processor=processors)
    return output[:, input_ids.shape[1]:]


@contextlib.contextmanager
def weights_precision(model):
    """Run `model` without autocast (see the module's docstring): accelerate's mixed-precision wrapper of `forward`
    (kept in `_original_forward`'s place while Trainer trains or evaluates) is set aside, and any autocast the
    caller is in is switched off."""
    wrapped = model.__dict__.get("forward")
    original = model.__dict__.get("_original_forward")
    if original is not None:
        model.forward = original
    device_type = next(model.parameters()).device.type
    try:
        with torch.autocast(device_type=device_type, enabled=False):
            yield
    finally:
        if original is not None:
            model.forward = wrapped


def uses_local_attention(config) -> bool:
    layers = list(getattr(config, "attention_layers", None) or []) + list(getattr(config, "layer_types", None) or [])
    return getattr(config, "sliding_window", None) is not None or any(
        kind in ("local", "sliding_attention") for kind in layers)


def tokens_before_eos(tokens: torch.Tensor, eos_token_id: int, pad_token_id: int | None = None) -> list[int]:
    """Position of the first EOS (or padding added after a summary that ran out of tokens) in each row."""
    is_eos = (tokens == eos_token_id) | (tokens == (eos_token_id if pad_token_id is None else pad_token_id))
    width = torch.full((tokens.shape[0],), tokens.shape[1], dtype=torch.long, device=tokens.device)
    return torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1), width).tolist()


def decode_until_eos(tokens: torch.Tensor, tokenizer, lengths: list[int] | None = None) -> list[str]:
    if lengths is None:
        lengths = tokens_before_eos(tokens, tokenizer.eos_token_id, tokenizer.pad_token_id)
    return [tokenizer.decode(row[:n], skip_special_tokens=True).strip() for row, n in zip(tokens.tolist(), lengths)]
