#!/usr/bin/env python
"""Summarize articles with any finished run (prompt, lora, head, full, zero-shot).

    python summarize.py --run_dir runs/lora article.txt          # one article per file
    cat article.txt | python summarize.py --run_dir runs/lora    # or from stdin
    python summarize.py --run_dir runs/prompt --base_model gpt2 --num_beams 1 a.txt b.txt

Uses the run's own prompt format (`prompt_format.json`: separator, length budget) and generation
settings (`generation_config.json`), so a summary here equals the run's `generated_predictions.jsonl`
for the same article. Flags override the generation settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

import torch
from transformers import GenerationConfig

from peft_methods.loading import load_trained_model
from summarization_data import BadInputError, PromptFormat
from summarization_data.tokenization import generation_prompt, load_prompt_format
from summarization_training.generation import decode_until_eos, generate_summary_ids


def summarize(articles: list[str], model, tokenizer, prompt_format: PromptFormat,
              generation_config: GenerationConfig) -> list[str]:
    """One article at a time: no padding, so the result is independent of what else is summarized."""
    separator_ids = tokenizer(prompt_format.separator, add_special_tokens=False)["input_ids"]
    summaries = []
    for article in articles:
        article_ids = tokenizer(article.strip(), add_special_tokens=False, verbose=False)["input_ids"]
        prompt = torch.tensor([generation_prompt(article_ids, separator_ids, prompt_format)])
        new_tokens = generate_summary_ids(model, prompt, torch.ones_like(prompt), generation_config)
        summaries += decode_until_eos(new_tokens, tokenizer)
    return summaries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="Article files (one article each). None: read stdin.")
    parser.add_argument("--run_dir", required=True, help="Output folder of run_summarization.py.")
    parser.add_argument("--base_model", help="Base model id/folder, if not the one recorded in the run.")
    parser.add_argument("--max_new_tokens", type=int, help="Override the run's maximum summary length.")
    parser.add_argument("--num_beams", type=int, help="Override the run's beam width.")
    args = parser.parse_args(argv)
    try:
        prompt_format = load_prompt_format(args.run_dir)
        generation_config = GenerationConfig.from_pretrained(args.run_dir)
        if args.num_beams:
            generation_config.num_beams = args.num_beams
        if args.max_new_tokens:
            generation_config.max_new_tokens = args.max_new_tokens
            # keep prompt + summary within the length the run was trained with
            prompt_format = dataclasses.replace(prompt_format, max_new_tokens=args.max_new_tokens)
        articles = []
        for path in args.files:
            if not os.path.isfile(path):
                raise BadInputError(f"article file {path} does not exist")
            with open(path, encoding="utf-8", errors="replace") as handle:
                articles.append(handle.read())
        if not args.files:
            articles.append(sys.stdin.read())
        if not all(article.strip() for article in articles):
            raise BadInputError("an article is empty; give a file with text or pipe text to stdin")
        model, tokenizer, _ = load_trained_model(args.run_dir, args.base_model)
    except (BadInputError, OSError) as error:
        print(f"summarize.py: error: {error}", file=sys.stderr)
        sys.exit(2)
    for summary in summarize(articles, model, tokenizer, prompt_format, generation_config):
        print(summary + ("\n" if len(articles) > 1 else ""))


if __name__ == "__main__":
    main()
