#!/usr/bin/env python
"""Summarize articles with any finished run (prompt, lora, head, full, zero-shot).

    python summarize.py --run_dir runs/lora article.txt          # one article per file
    cat article.txt | python summarize.py --run_dir runs/lora    # or from stdin
    python summarize.py --run_dir runs/prompt --base_model gpt2 --num_beams 1 a.txt b.txt

Uses the run's own prompt format (`prompt_format.json`: separator, length budget) and generation
settings (`generation_config.json`), so a summary here equals the run's `generated_predictions.jsonl`
for the same article. Flags override the generation settings; the config is rebuilt from them the way the
pipeline builds it, so `--num_beams 4` here equals a run made with `--generation_num_beams 4`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from dataclasses import dataclass, field

import torch
from transformers import GenerationConfig, HfArgumentParser

from core import BadInputError, run_cli, run_folder
from model_loading import ModelLoadingArguments
from peft_methods.loading import load_trained_model
from summarization_data import PromptFormat
from summarization_data.tokenization import generation_prompt, load_prompt_format
from summarization_training.generation import (
    decode_until_eos,
    generate_summary_ids,
    summary_generation_config,
)


def summarize(articles: list[str], model, tokenizer, prompt_format: PromptFormat,
              generation_config: GenerationConfig) -> list[str]:
    """One article at a time: no padding, so the result is independent of what else is summarized."""
    format_ids = prompt_format.encode(tokenizer)
    summaries = []
    for article in articles:
        article_ids = tokenizer(article.strip(), add_special_tokens=False, verbose=False)["input_ids"]
        prompt = torch.tensor([generation_prompt(article_ids, format_ids, prompt_format)])
        new_tokens = generate_summary_ids(model, prompt, torch.ones_like(prompt), generation_config)
        summaries += decode_until_eos(new_tokens, tokenizer)
    return summaries


def run_generation_config(run_dir: str, max_new_tokens: int | None = None,
                          num_beams: int | None = None) -> GenerationConfig:
    """The run's saved settings plus the overrides, through the pipeline's own builder: settings derived from
    others (early_stopping from the beam width) then follow the override instead of keeping the saved value."""
    saved = run_folder.read_generation_config(run_dir)
    return summary_generation_config(
        max_new_tokens or saved.max_new_tokens, num_beams or saved.num_beams,
        getattr(saved, "summary_no_repeat_ngram_size", 0), saved.length_penalty, saved.eos_token_id,
        saved.pad_token_id, saved.cache_implementation,
    )


def check_article_room(prompt_format: PromptFormat, num_format_tokens: int) -> None:
    """The prompt is cut so that prompt + summary fit the length the run was trained with; a longer summary
    budget leaves less article, and below the run's minimum the model summarizes (almost) nothing."""
    room = prompt_format.generation_article_budget(num_format_tokens)
    if room < prompt_format.min_article_tokens:
        most = prompt_format.max_new_tokens - (prompt_format.min_article_tokens - room)
        raise BadInputError(
            f"--max_new_tokens {prompt_format.max_new_tokens} leaves {max(room, 0)} article tokens within the "
            f"run's max_length {prompt_format.max_length} after the soft prompt ({prompt_format.num_virtual_tokens}) "
            f"and prompt format ({num_format_tokens}), fewer than its min_article_tokens "
            f"{prompt_format.min_article_tokens}; use --max_new_tokens {most} or less"
        )


@dataclass
class SummarizeArguments:
    run_dir: str = field(metadata={"help": "Output folder of run_summarization.py (any method, or zero-shot)."})
    base_model: str | None = field(
        default=None, metadata={"help": "Base model id/folder, if not the one recorded in the run."})
    max_new_tokens: int | None = field(default=None, metadata={"help": "Override the run's maximum summary length."})
    num_beams: int | None = field(default=None, metadata={"help": "Override the run's beam width."})

    def __post_init__(self):
        for flag, value in (("--max_new_tokens", self.max_new_tokens), ("--num_beams", self.num_beams)):
            if value is not None and value < 1:
                raise BadInputError(f"{flag} must be at least 1 (got {value})")


def read_articles(files: list[str]) -> list[str]:
    """One article per file; none: one article from stdin."""
    articles = []
    for path in files:
        if not os.path.isfile(path):
            raise BadInputError(f"article file {path} does not exist")
        with open(path, encoding="utf-8", errors="replace") as handle:
            articles.append(handle.read())
    if not files:
        articles.append(sys.stdin.read())
    for path, article in zip(files or ["stdin"], articles, strict=True):
        if not article.strip():
            raise BadInputError(f"the article in {path} is empty; give a file with text or pipe text to stdin")
    return articles


def run(argv: list[str] | None = None) -> list[str]:
    parser = HfArgumentParser((SummarizeArguments, ModelLoadingArguments), description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="Article files (one article each). None: read stdin.")
    args, loading, rest = parser.parse_args_into_dataclasses(args=argv)
    prompt_format = load_prompt_format(args.run_dir)
    generation_config = run_generation_config(args.run_dir, args.max_new_tokens, args.num_beams)
    # keep prompt + summary within the length the run was trained with
    prompt_format = dataclasses.replace(prompt_format, max_new_tokens=generation_config.max_new_tokens)
    articles = read_articles(rest.files)
    model, tokenizer, _ = load_trained_model(args.run_dir, args.base_model, loading)
    check_article_room(prompt_format, sum(map(len, prompt_format.encode(tokenizer))))
    summaries = summarize(articles, model, tokenizer, prompt_format, generation_config)
    for summary in summaries:
        print(summary + ("\n" if len(articles) > 1 else ""))
    return summaries


def main(argv: list[str] | None = None) -> None:
    run_cli("summarize.py", run, argv)


if __name__ == "__main__":
    main()
