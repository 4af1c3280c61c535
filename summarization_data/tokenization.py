"""Prefix + article + separator + summary + EOS, with loss only on the summary.

Each example keeps three id lists:
- `input_ids`: prefix + article (truncated to fit) + separator + summary + EOS, what training sees;
- `labels`: -100 on prefix, article and separator (the model is not asked to reproduce the input), the summary
  and EOS otherwise: the article is truncated, never the summary, so the model always learns where to stop;
- `prompt_input_ids`: prefix + article + separator, what generation starts from. The article is cut so that
  prompt + `max_new_tokens` fits in `max_length`: the summary gets the same room at generation as in
  training, and the cut does not depend on the reference (so `summarize.py` reproduces it exactly).
Padding is added later by the collator, so padding never needs to be told apart from EOS by id (a model that
pads with its EOS would otherwise never learn to stop).

The prefix is empty for the plain format (`article\nTL;DR: summary`); `chat_prompt_format` puts an instruction
and the article in the model's chat template, for instruction-tuned models.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass

from datasets import DatasetDict

from core import BadInputError, run_folder

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
ARTICLE_MARKER = "\u0000ARTICLE\u0000"  # stands for the article while a chat template is rendered


@dataclass(frozen=True)
class PromptFormat:
    """How an example is laid out in the token budget."""

    separator: str = "\nTL;DR:"
    max_length: int = 512
    num_virtual_tokens: int = 0  # soft-prompt positions the model prepends; they count against max_length
    min_article_tokens: int = 32
    max_new_tokens: int = 128  # room kept for the summary when generating
    prefix: str = ""  # text before the article: an instruction, or a chat template's turns up to the article

    def encode(self, tokenizer) -> tuple[list[int], list[int]]:
        """(prefix ids, separator ids). Special tokens written in the text (a chat template's) become their ids."""
        def ids(text: str) -> list[int]:
            return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []
        return ids(self.prefix), ids(self.separator)

    @property
    def summary_lead(self) -> str:
        """A space before the summary makes its first word the BPE token it is mid-sentence; after a newline (a
        chat template's assistant turn) a word has no leading space."""
        return "" if self.separator[-1:].isspace() else " "

    def article_budget(self, num_format_tokens: int, num_summary_tokens: int) -> int:
        """Article tokens that fit once soft prompt, prefix + separator, summary and EOS have their room."""
        return self.max_length - self.num_virtual_tokens - num_format_tokens - num_summary_tokens - 1

    def generation_article_budget(self, num_format_tokens: int) -> int:
        return self.max_length - self.num_virtual_tokens - num_format_tokens - self.max_new_tokens


def chat_prompt_format(tokenizer, instruction: str, **fields) -> PromptFormat:
    """The tokenizer's chat template with one user turn (instruction, blank line, article) and the assistant's turn
    opened: the prompt an instruction-tuned model was trained to answer."""
    if not getattr(tokenizer, "chat_template", None):
        raise BadInputError(f"--chat_template: the tokenizer of {tokenizer.name_or_path} has no chat template; "
                            "drop the flag (use --instruction alone for a plain-text instruction)")
    text = tokenizer.apply_chat_template([{"role": "user", "content": f"{instruction}\n\n{ARTICLE_MARKER}"}],
                                         tokenize=False, add_generation_prompt=True)
    prefix, separator = text.split(ARTICLE_MARKER)
    return PromptFormat(prefix=prefix, separator=separator, **fields)


def save_prompt_format(prompt_format: PromptFormat, output_dir: str) -> None:
    """The run's record of its prompt format, read back by summarize.py to lay articles out the same way."""
    run_folder.write_json(output_dir, run_folder.PROMPT_FORMAT, asdict(prompt_format))


def load_prompt_format(run_dir: str) -> PromptFormat:
    saved = run_folder.read_json(os.path.join(run_dir, run_folder.PROMPT_FORMAT))
    if not isinstance(saved, dict):
        raise BadInputError(f"{run_dir} has no {run_folder.PROMPT_FORMAT} (or it is unreadable): it is not a finished run of "
                            "run_summarization.py")
    return PromptFormat(**saved)


def generation_prompt(article_ids: list[int], format_ids: tuple[list[int], list[int]],
                      prompt_format: PromptFormat) -> list[int]:
    """What generation starts from: prefix, the article cut to the generation budget, separator."""
    prefix_ids, separator_ids = format_ids
    budget = prompt_format.generation_article_budget(len(prefix_ids) + len(separator_ids))
    return prefix_ids + article_ids[: max(0, budget)] + separator_ids


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
    articles = tokenizer(batch[text_column], add_special_tokens=False, verbose=False)["input_ids"]
    lead = prompt_format.summary_lead
    summaries = tokenizer([lead + s for s in batch[summary_column]], add_special_tokens=False,
                          verbose=False)["input_ids"]
    eos = tokenizer.eos_token_id
    # `length` is the column `--train_sampling_strategy group_by_length` reads instead of scanning every example.
    out = {"id": [], "input_ids": [], "labels": [], "prompt_input_ids": [], "length": []}
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
