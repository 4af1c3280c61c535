"""How an article is laid out for a decoder-only model: prefix (an instruction, or a chat template's turns up to
the article), the article cut to its token budget, separator; the summary follows. The same layout serves training
(summarization_data.tokenization adds summary + EOS and the labels) and generation (the prompt alone), and is saved
in the run folder so summarize.py lays an article out exactly as the run did.

The prompt is cut so that prompt + `max_new_tokens` fits in `max_length`: the summary gets the same room at
generation as in training, and the cut does not depend on the reference.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from core import BadInputError, run_folder

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
