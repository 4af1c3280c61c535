"""Summary generation shared by evaluation (`SummarizationTrainer`) and inference (`summarize.py`).

`no_repeat_ngram_size` in transformers bans every n-gram already in `input_ids`, which for a decoder-only
model includes the article: the model could not copy a single 3-word phrase from it, the very thing a
news summary does. (With `inputs_embeds`, as for the soft prompt, the prompt is not in `input_ids`, so
the same flag would behave differently per method.) Here the ban applies to the summary only, the same
way for every method; the size is kept in the generation config as `summary_no_repeat_ngram_size`.
"""

from __future__ import annotations

import copy

import torch
from transformers import GenerationConfig, LogitsProcessorList, NoRepeatNGramLogitsProcessor


class SummaryNoRepeatNGramLogitsProcessor(NoRepeatNGramLogitsProcessor):
    """No repeated n-gram within the generated tokens; the prompt may be quoted freely."""

    def __init__(self, ngram_size: int):
        super().__init__(ngram_size)
        self.prompt_length = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.prompt_length is None:  # the first call sees the prompt and nothing generated yet
            self.prompt_length = input_ids.shape[1]
        return super().__call__(input_ids[:, self.prompt_length:], scores)


def summary_generation_config(max_new_tokens: int, num_beams: int, no_repeat_ngram_size: int,
                              length_penalty: float, eos_token_id: int, pad_token_id: int,
                              cache_implementation: str | None = "static") -> GenerationConfig:
    """A static KV cache is preallocated (at least prompt + max_new_tokens; transformers reuses a larger one
    from an earlier call); the default dynamic cache concatenates every layer's keys and values at every step
    (a third of a CPU decoding step at batch 8, `benchmarks/kernels.py`). `disable_compile`: with a static
    cache on CUDA, transformers would otherwise torch.compile the decoding step on its own, recompiling for
    every new batch shape inside evaluation and keeping CUDA-graph memory during training."""
    return GenerationConfig(
        max_new_tokens=max_new_tokens, num_beams=num_beams, do_sample=False, length_penalty=length_penalty,
        early_stopping=num_beams > 1, eos_token_id=eos_token_id, pad_token_id=pad_token_id,
        summary_no_repeat_ngram_size=no_repeat_ngram_size, cache_implementation=cache_implementation,
        disable_compile=True,
    )


def generate_summary_ids(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                         generation_config: GenerationConfig) -> torch.Tensor:
    """New tokens only (prompt stripped), for a left-padded batch of prompts."""
    if generation_config.cache_implementation == "static" and uses_local_attention(model.config):
        # transformers' static cache gives wrong beam-search results once a sequence outgrows a local
        # attention window (GPT-Neo's local layers): such models keep the dynamic cache.
        generation_config = copy.deepcopy(generation_config)
        generation_config.cache_implementation = "dynamic"
    processors = LogitsProcessorList()
    ngram_size = getattr(generation_config, "summary_no_repeat_ngram_size", 0) or 0
    if ngram_size > 0:
        processors.append(SummaryNoRepeatNGramLogitsProcessor(ngram_size))
    with torch.no_grad():
        output = model.generate(input_ids=input_ids, attention_mask=attention_mask,
                                generation_config=generation_config, logits_processor=processors)
    return output[:, input_ids.shape[1]:]


def uses_local_attention(config) -> bool:
    layers = list(getattr(config, "attention_layers", None) or []) + list(getattr(config, "layer_types", None) or [])
    return getattr(config, "sliding_window", None) is not None or any(
        kind in ("local", "sliding_attention") for kind in layers)


def tokens_before_eos(tokens: torch.Tensor, eos_token_id: int, pad_token_id: int | None = None) -> list[int]:
    """Position of the first EOS (or padding added after a summary that ran out of tokens) in each row."""
    is_eos = (tokens == eos_token_id) | (tokens == (eos_token_id if pad_token_id is None else pad_token_id))
    width = torch.full((tokens.shape[0],), tokens.shape[1], dtype=torch.long, device=tokens.device)
    return torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1), width).tolist()


def decode_until_eos(tokens: torch.Tensor, tokenizer) -> list[str]:
    lengths = tokens_before_eos(tokens, tokenizer.eos_token_id, tokenizer.pad_token_id)
    return [tokenizer.decode(row[:n], skip_special_tokens=True).strip() for row, n in zip(tokens.tolist(), lengths)]
