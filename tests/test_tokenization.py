"""Label masking, truncation and padding, checked token by token."""

import pytest
from datasets import Dataset, DatasetDict

from core import BadInputError
from summarization_data import SummarizationCollator, tokenize_splits
from summarization_data.tokenization import IGNORE_INDEX, tokenize_batch
from summary_generation import PromptFormat
from summary_generation.padding import left_padded


def encode(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def one(tokenizer, article, summary, **format_kwargs):
    batch = {"id": ["x"], "article": [article], "highlights": [summary]}
    out = tokenize_batch(batch, tokenizer, PromptFormat(**format_kwargs), "article", "highlights")
    return {key: values[0] for key, values in out.items()} if out["input_ids"] else None


def test_labels_mask_article_and_separator_and_keep_summary_and_eos(tokenizer):
    article, summary = "The mayor of Lyon opened a bridge on Monday.", "Lyon has a new bridge.\nIt opened Monday."
    example = one(tokenizer, article, summary)
    article_ids, sep_ids = encode(tokenizer, article), encode(tokenizer, "\nTL;DR:")
    summary_ids = encode(tokenizer, " " + summary)
    eos = tokenizer.eos_token_id

    assert example["input_ids"] == article_ids + sep_ids + summary_ids + [eos]
    assert example["prompt_input_ids"] == article_ids + sep_ids
    assert example["length"] == len(example["input_ids"])  # what length-grouped sampling reads
    assert example["article_tokens_cut"] == 0  # read whole
    prompt_len = len(article_ids) + len(sep_ids)
    for position, (token, label) in enumerate(zip(example["input_ids"], example["labels"])):
        if position < prompt_len:
            assert label == IGNORE_INDEX, f"prompt position {position} must not carry loss"
        else:
            assert label == token, f"summary position {position} must be learned"
    assert example["labels"][-1] == eos
    assert tokenizer.decode(example["input_ids"][prompt_len:-1]).strip() == summary


def test_article_is_truncated_never_the_summary_and_soft_prompt_is_budgeted(tokenizer):
    article = " ".join(f"word{i}" for i in range(400))
    summary = "A short summary of many words.\nA second line."
    article_ids, sep_ids = encode(tokenizer, article), encode(tokenizer, "\nTL;DR:")
    summary_ids = encode(tokenizer, " " + summary)
    for virtual in (0, 6):
        example = one(tokenizer, article, summary, max_length=96, num_virtual_tokens=virtual, max_new_tokens=40)
        assert len(example["input_ids"]) + virtual == 96
        assert example["input_ids"][-len(summary_ids) - 1:] == summary_ids + [tokenizer.eos_token_id]
        training_budget = 96 - virtual - len(sep_ids) - len(summary_ids) - 1
        assert example["input_ids"][:training_budget + len(sep_ids)] == article_ids[:training_budget] + sep_ids
        # Generation starts from the article cut so that prompt + 40 new tokens fit in 96, whatever the reference.
        assert example["prompt_input_ids"] == article_ids[:96 - virtual - len(sep_ids) - 40] + sep_ids
        assert len(example["prompt_input_ids"]) + virtual + 40 == 96
        assert example["article_tokens_cut"] == len(article_ids) - (96 - virtual - len(sep_ids) - 40)


def test_example_whose_summary_cannot_fit_is_dropped_and_counted(tokenizer, caplog):
    long_summary = " ".join(["A very long highlight sentence."] * 30)
    raw = DatasetDict({"train": Dataset.from_dict({
        "id": ["a", "b"], "article": ["Short article text here. " * 20] * 2, "highlights": ["Fits.", long_summary],
    })})
    with caplog.at_level("WARNING"):
        tokenized = tokenize_splits(raw, tokenizer, PromptFormat(max_length=128, max_new_tokens=32),
                                   load_from_cache_file=False)
    assert tokenized["train"]["id"] == ["a"]
    assert "dropped 1 of 2" in caplog.text


def test_max_length_too_small_for_prompt_and_summary_is_refused(tokenizer):
    raw = DatasetDict({"train": Dataset.from_dict({"id": ["a"], "article": ["x"], "highlights": ["y"]})})
    with pytest.raises(BadInputError, match="--max_length 40 is too small"):
        tokenize_splits(raw, tokenizer, PromptFormat(max_length=40, num_virtual_tokens=8))


def test_collator_masks_padding_by_position_even_though_pad_is_eos(tokenizer):
    eos = tokenizer.eos_token_id
    short = one(tokenizer, "Rain fell in Oslo today. " * 3, "Rain in Oslo.")
    long = one(tokenizer, "Snow fell in Rome on Friday night. " * 6, "Snow in Rome.\nIt fell Friday.")
    batch = SummarizationCollator(pad_token_id=eos)([short, long])
    n = len(short["input_ids"])
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert batch["attention_mask"][0, :n].all() and not batch["attention_mask"][0, n:].any()
    assert (batch["input_ids"][0, n:] == eos).all()
    assert (batch["labels"][0, n:] == IGNORE_INDEX).all()
    # The real EOS that ends the summary keeps its label: the model must learn to stop.
    assert batch["labels"][0, n - 1].item() == eos
    # Prompts are left-padded for generation: every prompt ends at the last column.
    prompt_ids, prompt_mask = left_padded([short["prompt_input_ids"], long["prompt_input_ids"]], eos)
    p = len(short["prompt_input_ids"])
    assert prompt_ids[0, -p:].tolist() == short["prompt_input_ids"]
    assert prompt_mask[0].tolist() == [0] * (prompt_ids.shape[1] - p) + [1] * p
    assert prompt_ids[1].tolist() == long["prompt_input_ids"] and prompt_mask[1].all()


def test_min_article_tokens_is_the_boundary_of_what_is_kept(tokenizer, caplog):
    """An example whose summary leaves exactly --min_article_tokens article tokens is kept (with exactly that many);
    a summary one token longer leaves one fewer, and its example is dropped and counted."""
    minimum, virtual, max_new_tokens = 20, 3, 4
    article = " ".join(f"word{i}" for i in range(60))
    fits, one_longer = "Rain fell in Oslo.", "Rain fell in Oslo today."
    separator, summary = encode(tokenizer, "\nTL;DR:"), encode(tokenizer, " " + fits)
    assert len(encode(tokenizer, " " + one_longer)) == len(summary) + 1
    max_length = virtual + minimum + len(separator) + len(summary) + 1  # + EOS
    prompt_format = PromptFormat(max_length=max_length, num_virtual_tokens=virtual, min_article_tokens=minimum,
                                 max_new_tokens=max_new_tokens)
    raw = DatasetDict({"train": Dataset.from_dict({"id": ["fits", "one-longer"], "article": [article] * 2,
                                                   "highlights": [fits, one_longer]})})
    with caplog.at_level("WARNING"):
        kept = tokenize_splits(raw, tokenizer, prompt_format, load_from_cache_file=False)["train"]
    assert kept["id"] == ["fits"]
    assert "train: dropped 1 of 2 examples" in caplog.text and f"at least {minimum} article tokens" in caplog.text
    assert kept[0]["input_ids"] == encode(tokenizer, article)[:minimum] + separator + summary + [tokenizer.eos_token_id]
    assert len(kept[0]["input_ids"]) + virtual == max_length


def test_tokenization_cache_key_changes_with_what_the_tokens_depend_on_and_only_then(tokenizer_dir):
    """The map's cache key is ours (datasets would pickle the whole vocabulary): a cached result must never be
    reused for another tokenizer, prompt format or column, and must be reused for the same ones."""
    from transformers import GPT2TokenizerFast

    from summarization_data.tokenization import map_fingerprint

    def fresh():
        loaded = GPT2TokenizerFast.from_pretrained(tokenizer_dir)
        loaded.pad_token = loaded.eos_token
        return loaded

    data = Dataset.from_dict({"article": ["One two three."], "highlights": ["One."]})
    key = map_fingerprint(data, fresh(), PromptFormat(max_length=64), "article", "highlights")
    assert key == map_fingerprint(data, fresh(), PromptFormat(max_length=64), "article", "highlights")
    other_data = Dataset.from_dict({"article": ["One two four."], "highlights": ["One."]})
    with_token = fresh()
    with_token.add_special_tokens({"additional_special_tokens": ["<extra>"]})
    left = fresh()
    left.padding_side = "left"
    changed = [map_fingerprint(other_data, fresh(), PromptFormat(max_length=64), "article", "highlights"),
               map_fingerprint(data, with_token, PromptFormat(max_length=64), "article", "highlights"),
               map_fingerprint(data, left, PromptFormat(max_length=64), "article", "highlights"),
               map_fingerprint(data, fresh(), PromptFormat(max_length=65), "article", "highlights"),
               map_fingerprint(data, fresh(), PromptFormat(max_length=64), "highlights", "article")]
    assert key not in changed and len(set(changed)) == len(changed)
