"""Prefix + article + separator + summary + EOS, with loss only on the summary.

Each example keeps three id lists:
- `input_ids`: prefix + article (truncated to fit) + separator + summary + EOS, what training sees;
- `labels`: -100 on prefix, article and separator (the model is not asked to reproduce the input), the summary
  and EOS otherwise: the article is truncated, never the summary, so the model always learns where to stop;
- `prompt_input_ids`: prefix + article + separator, what generation starts from. The article is cut so that
  prompt + `max_new_tokens` fits in `max_length`: the summary gets the same room at generation as in
  training, and the cut does not depend on the reference (so `summarize.py` reproduces it exactly).
- `article_tokens_cut`: how many article tokens that cut left out (0: the article was read whole), so a run can
  say how many of the articles it summarised it did not read to the end.
Padding is added later by the collator, so padding never needs to be told apart from EOS by id (a model that
pads with its EOS would otherwise never learn to stop). The layout itself (`PromptFormat`: prefix, separator, the
budgets) is generation's, in `summary_generation.prompt`, shared with summarize.py.
"""

from __future__ import annotations

import logging

from datasets import DatasetDict

from core import BadInputError
from summary_generation.prompt import PromptFormat, generation_prompt

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100


def check_budget(prompt_format: PromptFormat, num_format_tokens: int) -> None:
    room = prompt_format.article_budget(num_format_tokens, num_summary_tokens=0)
    if room < prompt_format.min_article_tokens + 1:
        raise BadInputError(
            f"--max_length {prompt_format.max_length} is too small: the soft prompt "
            f"({prompt_format.num_virtual_tokens}), prompt format ({num_format_tokens}) and EOS leave {room} tokens "
            f"for article + summary, fewer than --min_article_tokens {prompt_format.min_article_tokens} + a summary; "
            "raise --max_length"
        )
    if prompt_format.generation_article_budget(num_format_tokens) < prompt_format.min_article_tokens:
        raise BadInputError(
            f"--max_length {prompt_format.max_length} leaves "
            f"{prompt_format.generation_article_budget(num_format_tokens)} article tokens for generation after "
            f"the soft prompt, prompt format and --generation_max_new_tokens {prompt_format.max_new_tokens}; "
            "raise --max_length or lower --generation_max_new_tokens"
        )


def tokenize_batch(batch, tokenizer, prompt_format: PromptFormat, text_column: str, summary_column: str):
    prefix_ids, separator_ids = format_ids = prompt_format.encode(tokenizer)
    num_format_tokens = len(prefix_ids) + len(separator_ids)
    generation_budget = max(0, prompt_format.generation_article_budget(num_format_tokens))
    articles = tokenizer(batch[text_column], add_special_tokens=False, verbose=False)["input_ids"]
    lead = prompt_format.summary_lead
    summaries = tokenizer([lead + s for s in batch[summary_column]], add_special_tokens=False,
                          verbose=False)["input_ids"]
    eos = tokenizer.eos_token_id
    # `length` is the column `--train_sampling_strategy group_by_length` reads instead of scanning every example.
    out = {"id": [], "input_ids": [], "labels": [], "prompt_input_ids": [], "length": [], "article_tokens_cut": []}
    for example_id, article, summary in zip(batch["id"], articles, summaries):
        budget = prompt_format.article_budget(num_format_tokens, len(summary))
        if budget < prompt_format.min_article_tokens:
            continue  # the summary is never truncated, so an example whose summary cannot fit is dropped
        prompt = prefix_ids + article[:budget] + separator_ids
        out["id"].append(example_id)
        out["input_ids"].append(prompt + summary + [eos])
        out["labels"].append([IGNORE_INDEX] * len(prompt) + summary + [eos])
        out["prompt_input_ids"].append(generation_prompt(article, format_ids, prompt_format))
        out["length"].append(len(out["input_ids"][-1]))
        out["article_tokens_cut"].append(max(0, len(article) - generation_budget))
    return out


def map_fingerprint(dataset, tokenizer, *arguments) -> str | None:
    """The cache key of tokenizing `dataset`: what `datasets` would compute, without pickling the tokenizer
    (datasets dills its whole vocabulary, ~1.5 s per split for GPT-2's; the fast tokenizer's own JSON says the
    same in milliseconds). None (let datasets hash) for a tokenizer without that JSON."""
    from datasets.fingerprint import Hasher

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    tokenizer_state = [type(tokenizer).__name__, backend.to_str(), tokenizer.special_tokens_map,
                       tokenizer.padding_side, tokenizer.truncation_side]
    return Hasher.hash([dataset._fingerprint, tokenize_batch, tokenizer_state, *arguments])


def tokenize_splits(
    raw: DatasetDict,
    tokenizer,
    prompt_format: PromptFormat,
    text_column: str = "article",
    summary_column: str = "highlights",
    num_proc: int | None = None,
    load_from_cache_file: bool = True,
) -> DatasetDict:
    """Tokenize every split with `datasets.map` (cached, optionally multi-process); log dropped examples."""
    if tokenizer.eos_token_id is None:
        raise BadInputError("the tokenizer has no EOS token; pass --tokenizer_name with a causal-LM tokenizer")
    check_budget(prompt_format, sum(map(len, prompt_format.encode(tokenizer))))
    tokenized = {}
    for split, dataset in raw.items():
        tokenized[split] = dataset.map(
            tokenize_batch,
            batched=True,
            new_fingerprint=map_fingerprint(dataset, tokenizer, prompt_format, text_column, summary_column),
            num_proc=num_proc,
            remove_columns=dataset.column_names,
            fn_kwargs={
                "tokenizer": tokenizer,
                "prompt_format": prompt_format,
                "text_column": text_column,
                "summary_column": summary_column,
            },
            load_from_cache_file=load_from_cache_file,
            desc=f"Tokenizing {split}",
        )
        dropped = len(dataset) - len(tokenized[split])
        if dropped:
            logger.warning(
                "%s: dropped %d of %d examples whose summary does not fit in --max_length %d "
                "with at least %d article tokens",
                split, dropped, len(dataset), prompt_format.max_length, prompt_format.min_article_tokens,
            )
        if len(tokenized[split]) == 0:
            raise BadInputError(
                f"{split}: every summary is too long for --max_length {prompt_format.max_length}; raise it"
            )
    return DatasetDict(tokenized)
