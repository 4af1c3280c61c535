"""Generation-based evaluation: prompt-only, left-padded, prompt stripped, identical alone and in a batch,
soft prompt present, no logits kept."""

import sys

import pytest
import torch
from datasets import Dataset

from peft_methods import METHODS
from summarization_data import SummarizationCollator
from summarization_data.tokenization import tokenize_batch
from summarization_training import SummarizationTrainer, SummarizationTrainingArguments
from summary_generation import PromptFormat
from summary_generation.generate import generate_summary_ids

from .conftest import make_tiny_gpt2
from .test_methods import CONFIGS

ARTICLES = [
    "Rain fell in Oslo on Monday.",
    "Officials in Lyon said on Friday that a new bridge over the river will open next spring after years of work.",
    "A fire destroyed a warehouse in Porto. Nobody was hurt, firefighters said, but the damage runs to millions.",
]


def tokenized(tokenizer, n=3):
    batch = {"id": [f"x{i}" for i in range(n)], "article": ARTICLES[:n],
             "highlights": [f"Summary number {i}.\nSecond line." for i in range(n)]}
    return Dataset.from_dict(tokenize_batch(batch, tokenizer, PromptFormat(max_length=128, min_article_tokens=1, max_new_tokens=12),
                                            "article", "highlights"))


def trainer_for(model, tokenizer, tmp_path, batch_size, **overrides):
    settings = dict(generation_num_beams=1, generation_max_new_tokens=12, no_repeat_ngram_size=0)
    args = SummarizationTrainingArguments(
        output_dir=str(tmp_path), per_device_eval_batch_size=batch_size, predict_with_generate=True,
        report_to="none", eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
        **{**settings, **overrides})
    return SummarizationTrainer(model=model, args=args, processing_class=tokenizer, method=METHODS["full"])


def build(name, tokenizer):
    model = METHODS[name].build(make_tiny_gpt2(seed=3), CONFIGS[name], tokenizer)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.requires_grad and ("lora_B" in n or "prompt" in n or "ia3_l" in n):
                p.normal_(std=0.5)  # a "trained" adapter that changes the output
    return model.eval()


@pytest.mark.parametrize("name", list(METHODS))
def test_summary_is_the_same_alone_and_inside_a_left_padded_batch(name, tokenizer, tmp_path):
    model = build(name, tokenizer)
    dataset = tokenized(tokenizer)
    together = trainer_for(model, tokenizer, tmp_path, batch_size=3).generate_summaries(dataset)
    alone = trainer_for(model, tokenizer, tmp_path, batch_size=1).generate_summaries(dataset)
    assert together.predictions == alone.predictions
    assert together.lengths == alone.lengths
    assert together.ids == ["x0", "x1", "x2"]
    assert together.references == [f"Summary number {i}.\nSecond line." for i in range(3)]


@pytest.mark.parametrize("name", ["full", "prompt"])
def test_prompt_is_stripped_and_output_equals_a_plain_generate_call(name, tokenizer, tmp_path):
    model = build(name, tokenizer)
    dataset = tokenized(tokenizer)
    result = trainer_for(model, tokenizer, tmp_path, batch_size=3).generate_summaries(dataset)
    for example, prediction in zip(dataset, result.predictions):
        prompt = torch.tensor([example["prompt_input_ids"]])
        output = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=12,
                                do_sample=False, pad_token_id=tokenizer.eos_token_id)
        assert output[0, : prompt.shape[1]].tolist() == example["prompt_input_ids"]
        new = output[0, prompt.shape[1]:].tolist()
        new = new[: new.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in new else new
        assert prediction == tokenizer.decode(new, skip_special_tokens=True).strip()
        assert "TL;DR" not in prediction


def test_soft_prompt_is_present_during_generation(tokenizer, tmp_path):
    tuned = build("prompt", tokenizer)
    base = make_tiny_gpt2(seed=3).eval()
    dataset = tokenized(tokenizer)
    with_prompt = trainer_for(tuned, tokenizer, tmp_path, 3).generate_summaries(dataset).predictions
    without = trainer_for(base, tokenizer, tmp_path, 3).generate_summaries(dataset).predictions
    assert with_prompt != without


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-phase host peaks need Linux's clear_refs")
def test_eval_keeps_no_logits_peak_memory_does_not_grow_with_examples(tokenizer, tmp_path, news_dir):
    """Keeping logits would cost length x 50,257 x 4 bytes (~50 MB) per example: 40 more examples, 2 GB."""
    from summarization_data import load_summarization_splits, tokenize_splits
    from trainer_callbacks import PeakMemoryCallback, insert_before_reporters
    from trainer_callbacks.memory import HostPeakMemory

    # Without a per-phase reset every peak is the process's lifetime peak, and the comparison below proves nothing.
    assert HostPeakMemory().resettable, "/proc/self/clear_refs is not writable: the host peak cannot be reset"

    raw = load_summarization_splits({"validation": f"{news_dir}/validation.csv"})["validation"]
    many = Dataset.from_list([raw[i % len(raw)] for i in range(48)])
    data = tokenize_splits({"few": many.select(range(8)), "many": many}, tokenizer, PromptFormat(max_length=256))
    peaks = {}
    for split in ("few", "many", "few"):  # "few" twice: the first run also pays one-off allocations
        trainer = trainer_for(make_tiny_gpt2(), tokenizer, tmp_path, batch_size=4, eval_generate_samples=4)
        trainer.data_collator = SummarizationCollator(tokenizer.eos_token_id)
        insert_before_reporters(trainer, [PeakMemoryCallback()])
        metrics = trainer.evaluate(data[split])
        peaks[split] = metrics["eval_peak_host_memory_mb"]
        assert metrics["eval_samples"] == len(data[split]) and metrics["eval_generated_samples"] == 4
    assert peaks["many"] - peaks["few"] < 300, peaks


def test_no_repeat_ngram_bans_repeats_within_the_summary_but_allows_copying_from_the_article():
    from transformers import NoRepeatNGramLogitsProcessor

    from summary_generation.generate import SummaryNoRepeatNGramLogitsProcessor

    prompt = torch.tensor([[5, 6, 7, 1, 5, 6]])  # the article already holds "5 6 7"
    scores = torch.zeros(1, 10)
    assert NoRepeatNGramLogitsProcessor(3)(prompt, scores.clone())[0, 7] == -float("inf")  # stock: no copying
    ours = SummaryNoRepeatNGramLogitsProcessor(3)
    assert torch.isfinite(ours(prompt, scores.clone())).all()  # first call: only the prompt, nothing banned
    generated = torch.cat([prompt, torch.tensor([[5, 6, 7, 2, 5, 6]])], dim=1)  # the summary repeats "5 6"
    banned = ours(generated, scores.clone())[0]
    assert banned[7] == -float("inf") and torch.isfinite(banned[:7]).all()


def test_generation_batch_size_sets_how_many_prompts_decode_together(tokenizer, tmp_path, monkeypatch):
    import summary_generation.generate as generate_module

    shapes = []
    original = generate_module.generate_summary_ids
    monkeypatch.setattr(generate_module, "generate_summary_ids",
                        lambda model, ids, *rest: shapes.append(tuple(ids.shape)) or original(model, ids, *rest))
    trainer = trainer_for(build("full", tokenizer), tokenizer, tmp_path, batch_size=1, generation_batch_size=2)
    trainer.generate_summaries(tokenized(tokenizer))
    assert [rows for rows, _ in shapes] == [2, 1]


@pytest.mark.parametrize("name", list(METHODS))
def test_static_kv_cache_gives_the_dynamic_cache_summaries_with_beams(name, tokenizer, tmp_path):
    model = build(name, tokenizer)
    dataset = tokenized(tokenizer)
    results = [trainer_for(model, tokenizer, tmp_path, batch_size=3, generation_num_beams=3, no_repeat_ngram_size=2,
                           generation_cache=cache).generate_summaries(dataset) for cache in ("static", "dynamic")]
    assert results[0].predictions == results[1].predictions and results[0].lengths == results[1].lengths


def test_models_with_local_attention_keep_the_dynamic_cache():
    """GPT-Neo's local layers: past the window, a static cache changes beam-search results, so it is not used."""
    from transformers import GPTNeoConfig, GPTNeoForCausalLM

    from summary_generation import SummarySettings

    torch.manual_seed(0)
    model = GPTNeoForCausalLM(GPTNeoConfig(vocab_size=200, hidden_size=32, num_layers=2, num_heads=2, window_size=8,
                                           attention_types=[[["global", "local"], 1]], max_position_embeddings=128,
                                           eos_token_id=199, bos_token_id=199)).eval()
    input_ids = torch.randint(0, 199, (2, 40), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(input_ids)
    outputs = [generate_summary_ids(model, input_ids, mask, SummarySettings(20, 4, 0, 1.0, cache=cache, eos_token_id=199, pad_token_id=199).generation_config())
               for cache in ("static", "dynamic")]
    assert torch.equal(outputs[0], outputs[1])
