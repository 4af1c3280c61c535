#!/usr/bin/env python
"""Summarize articles with any finished run ({methods}).

    python summarize.py --run_dir runs/lora article.txt          # one article per file
    cat article.txt | python summarize.py --run_dir runs/lora    # or from stdin
    python summarize.py --run_dir runs/prompt --base_model gpt2 --num_beams 1 a.txt b.txt
    python summarize.py --run_dir runs/lora --lines < articles.txt   # one article per line, in batches

Uses the run's own prompt format (`prompt_format.json`: prefix, separator) and generation settings
(`generation_config.json`), through the pipeline's own generation loop (`summary_generation`). The article is read
whole, up to the base model's context (SmolLM2: 8,192 positions; GPT-2: 1,024), not cut to the length the run
trained with; an article that still does not fit is cut, and stderr says how much. `--max_length` of the run
lays articles out exactly as the run did, so a summary equals the run's `generated_predictions.jsonl` for the same
article. Flags override the generation settings: `--num_beams 4` here equals a run made with
`--generation_num_beams 4`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from dataclasses import dataclass, field

import torch
from transformers import HfArgumentParser

from core import BadInputError, one_line_errors, run_cli, run_folder
from model_loading import ModelLoadingArguments, context_window
from peft_methods import RUNNABLE
from peft_methods.loading import load_trained_model
from summary_generation import (
    PromptFormat,
    SummarySettings,
    generate_summaries,
    generation_prompt,
    load_prompt_format,
)


def summarize(articles: list[str], model, tokenizer, prompt_format: PromptFormat, settings: SummarySettings,
              batch_size: int = 8, sources: list[str] | None = None) -> list[str]:
    """The articles laid out in the run's prompt format, summarized in left-padded batches; an article cut to fit
    `prompt_format.max_length` is reported on stderr (by its `sources` name)."""
    format_ids = prompt_format.encode(tokenizer)
    article_ids = tokenizer([article.strip() for article in articles], add_special_tokens=False,
                            verbose=False)["input_ids"]
    room = prompt_format.generation_article_budget(sum(map(len, format_ids)))
    for index, ids in enumerate(article_ids):
        if len(ids) > room:
            name = sources[index] if sources else f"article {index + 1}"
            print(f"summarize.py: {name}: read only the first {room:,} of its {len(ids):,} tokens (prompt and "
                  f"{prompt_format.max_new_tokens} summary tokens must fit in {prompt_format.max_length:,} positions; "
                  "--max_length sets them, up to the model's context)", file=sys.stderr)
    prompts = [generation_prompt(ids, format_ids, prompt_format) for ids in article_ids]
    return generate_summaries(model, tokenizer, prompts, settings, batch_size).texts


def check_article_room(prompt_format: PromptFormat, num_format_tokens: int) -> None:
    """The prompt is cut so that prompt + summary fit `max_length`; a longer summary budget leaves less article,
    and below the run's minimum the model summarizes (almost) nothing."""
    room = prompt_format.generation_article_budget(num_format_tokens)
    if room < prompt_format.min_article_tokens:
        most = prompt_format.max_new_tokens - (prompt_format.min_article_tokens - room)
        raise BadInputError(
            f"--max_new_tokens {prompt_format.max_new_tokens} leaves {max(room, 0)} article tokens within "
            f"max_length {prompt_format.max_length} after the soft prompt ({prompt_format.num_virtual_tokens}) "
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
    max_length: int | None = field(default=None, metadata={
        "help": "Positions prompt + summary may take (default: the base model's context, so the article is read "
                "whole where it fits). The run's own --max_length cuts articles exactly as the run did."})
    lines: bool = field(default=False, metadata={"help": "Every non-empty line (of stdin or each file) is an "
                                                         "article; default: a whole file (or stdin) is one."})
    batch_size: int = field(default=8, metadata={"help": "Articles summarized together (left-padded batches)."})
    device: str | None = field(default=None, metadata={"help": "Where to run: 'cuda', 'cpu', ... (default: the "
                                                               "GPU when there is one)."})

    def __post_init__(self):
        for flag, value in (("--max_new_tokens", self.max_new_tokens), ("--num_beams", self.num_beams),
                            ("--batch_size", self.batch_size), ("--max_length", self.max_length)):
            if value is not None and value < 1:
                raise BadInputError(f"{flag} must be at least 1 (got {value})")


def read_articles(files: list[str], lines: bool = False) -> list[tuple[str, str]]:
    """(where it came from, article): one article per file (none: stdin); with `lines`, one per non-empty line."""
    texts = []
    for path in files:
        if not os.path.isfile(path):
            raise BadInputError(f"article file {path} does not exist")
        with open(path, encoding="utf-8", errors="replace") as handle:
            texts.append((path, handle.read()))
    if not files:
        texts.append(("stdin", sys.stdin.read()))
    articles = []
    for path, text in texts:
        found = ([(f"{path} line {number}", line) for number, line in enumerate(text.splitlines(), start=1)
                  if line.strip()] if lines else [(path, text)])
        if not any(article.strip() for _, article in found):
            raise BadInputError(f"the article in {path} is empty; give a file with text or pipe text to stdin")
        articles += found
    return articles


def run(argv: list[str] | None = None) -> list[str]:
    parser = one_line_errors(HfArgumentParser((SummarizeArguments, ModelLoadingArguments), prog="summarize.py",
                                              description=__doc__.format(methods=", ".join(RUNNABLE)),
                                              formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("files", nargs="*", help="Article files (one article each). None: read stdin.")
    args, loading, rest = parser.parse_args_into_dataclasses(args=argv)
    run_folder.require_folder(args.run_dir)
    prompt_format = load_prompt_format(args.run_dir)
    settings = SummarySettings.from_run(args.run_dir).replace(max_new_tokens=args.max_new_tokens,
                                                               num_beams=args.num_beams)
    articles = read_articles(rest.files, args.lines)
    model, tokenizer, _ = load_trained_model(args.run_dir, args.base_model, loading)
    model.to(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    window = context_window(model)
    if args.max_length is not None and window is not None and args.max_length > window:
        raise BadInputError(f"--max_length {args.max_length} exceeds the model's {window:,}-token context")
    # Inference reads what it is given: the model's whole context, not the (shorter) length the run trained with.
    prompt_format = dataclasses.replace(prompt_format, max_new_tokens=settings.max_new_tokens,
                                        max_length=args.max_length or window or prompt_format.max_length)
    check_article_room(prompt_format, sum(map(len, prompt_format.encode(tokenizer))))
    summaries = summarize([text for _, text in articles], model, tokenizer, prompt_format, settings, args.batch_size,
                          sources=[source for source, _ in articles])
    for summary in summaries:
        print(summary + ("\n" if len(articles) > 1 else ""))
    return summaries


def main(argv: list[str] | None = None) -> None:
    run_cli("summarize.py", run, argv)


if __name__ == "__main__":
    main()
