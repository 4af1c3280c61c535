"""Where a summary ends, with a stub model whose output is known token by token: summaries of different lengths
inside one left-padded batch, cut at their first EOS, `gen_len` counting exactly the tokens before it, and the
rows that stopped early padded while the others go on."""

import pytest
import torch
from datasets import Dataset
from torch import nn
from transformers import GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from peft_methods import METHODS
from summarization_training import SummarizationTrainer, SummarizationTrainingArguments
from summary_generation import SummarySettings
from summary_generation.generate import (
    decode_until_eos,
    generate_summary_ids,
    tokens_before_eos,
)

MAX_NEW_TOKENS = 6
# Per row: the prompt (ending in a word no other row uses) and the words the stub then emits before EOS.
ROWS = [
    ("Rain fell in Oslo on Monday morning. Marker", " Rain fell"),  # stops after 2 tokens
    ("Nothing to say here. Silence", ""),  # EOS at once: an empty summary
    ("A storm hit Rome on a cold and windy Friday night, officials said. Weather", " Snow in Rome today again"),
    ("Count:", " one two three four five six seven eight"),  # never stops: runs to MAX_NEW_TOKENS
]


class StubConfig(PretrainedConfig):
    model_type = "eos-stub"

    def __init__(self, next_token: dict | None = None, vocab_size: int = 50257, **kwargs):
        self.next_token = {int(k): v for k, v in (next_token or {}).items()}
        self.vocab_size = vocab_size
        # The shape of the KV cache generate allocates (the stub never reads or writes it).
        self.num_hidden_layers, self.num_attention_heads, self.hidden_size = 1, 1, 8
        super().__init__(**kwargs)


class StubLM(PreTrainedModel, GenerationMixin):
    """A bigram table: the next token is `next_token[last token]` (EOS for any token not in it), whatever came
    before, so the output is known in advance and does not depend on a KV cache or on padding."""

    config_class = StubConfig

    def __init__(self, config):
        super().__init__(config)
        self.unused = nn.Parameter(torch.zeros(1))  # a device and dtype for Trainer and generate
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, logits_to_keep=0, **kwargs):
        ids = input_ids[:, -logits_to_keep:] if isinstance(logits_to_keep, int) and logits_to_keep else input_ids
        table = self.config.next_token
        following = torch.tensor([[table.get(t, self.config.eos_token_id) for t in row] for row in ids.tolist()])
        logits = torch.full((*ids.shape, self.config.vocab_size), -1e4)
        logits.scatter_(2, following[..., None], 0.0)
        return CausalLMOutputWithPast(logits=logits + 0 * self.unused)


def encode(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


@pytest.fixture
def stub(tokenizer):
    """The stub model, each row's prompt ids, and the tokens each row emits before EOS."""
    eos = tokenizer.eos_token_id
    table, prompts, scripts = {}, [], []
    for prompt, words in ROWS:
        prompts.append(encode(tokenizer, prompt))
        scripts.append(encode(tokenizer, words))
        chain = [prompts[-1][-1], *scripts[-1]]
        for token, following in zip(chain, chain[1:]):
            assert table.setdefault(token, following) == following, "a token with two successors"
    table[eos] = encode(tokenizer, " garbage")[0]  # a row fed its EOS again would go on: it must be padded instead
    config = StubConfig(next_token=table, eos_token_id=eos, pad_token_id=eos, bos_token_id=eos)
    return StubLM(config).eval(), prompts, scripts


def left_padded(prompts, pad):
    width = max(map(len, prompts))
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


@pytest.mark.parametrize("cache", ["static", "dynamic"])
def test_rows_stop_at_their_own_eos_inside_one_left_padded_batch(stub, tokenizer, cache):
    model, prompts, scripts = stub
    eos, pad = tokenizer.eos_token_id, 0  # a pad id apart from EOS, so padding is visible
    ids, mask = left_padded(prompts, pad)
    config = SummarySettings(MAX_NEW_TOKENS, 1, 0, 1.0, cache=cache, eos_token_id=eos, pad_token_id=pad).generation_config()
    new = generate_summary_ids(model, ids, mask, config)
    assert new.shape == (len(ROWS), MAX_NEW_TOKENS)  # the prompt is stripped; the longest row sets the width
    expected_lengths = [min(len(script), MAX_NEW_TOKENS) for script in scripts]
    assert expected_lengths == [2, 0, 5, 6]  # different lengths in one batch, one run to the limit
    for row, (script, length) in enumerate(zip(scripts, expected_lengths)):
        assert new[row, :length].tolist() == script[:length]
        if length < MAX_NEW_TOKENS:  # stopped: its EOS, then padding while the other rows go on
            assert new[row, length].item() == eos
            assert new[row, length + 1:].tolist() == [pad] * (MAX_NEW_TOKENS - length - 1)
    assert tokens_before_eos(new, eos, pad) == expected_lengths
    assert decode_until_eos(new, tokenizer) == ["Rain fell", "", "Snow in Rome today again",
                                                "one two three four five six"]


def test_trainer_summaries_and_gen_len_with_summaries_of_different_lengths(stub, tokenizer, tmp_path):
    """The evaluation path: batched, left-padded generation (GPT-2 pads with EOS), predictions cut at EOS,
    `lengths` (what gen_len averages) the exact count of tokens before it."""
    model, prompts, scripts = stub
    eos = tokenizer.eos_token_id
    references = [f"Reference {i}." for i in range(len(ROWS))]
    rows = {"id": [], "input_ids": [], "labels": [], "prompt_input_ids": []}
    for i, (prompt, reference) in enumerate(zip(prompts, references)):
        summary = encode(tokenizer, " " + reference) + [eos]
        rows["id"].append(f"row{i}")
        rows["prompt_input_ids"].append(prompt)
        rows["input_ids"].append(prompt + summary)
        rows["labels"].append([-100] * len(prompt) + summary)
    args = SummarizationTrainingArguments(
        output_dir=str(tmp_path), per_device_eval_batch_size=len(ROWS), predict_with_generate=True,
        generation_num_beams=1, generation_max_new_tokens=MAX_NEW_TOKENS, no_repeat_ngram_size=0, report_to="none",
        eval_strategy="no", save_strategy="no", load_best_model_at_end=False, use_cpu=True)
    trainer = SummarizationTrainer(model=model, args=args, processing_class=tokenizer, method=METHODS["full"])
    result = trainer.generate_summaries(Dataset.from_dict(rows))
    assert result.ids == ["row0", "row1", "row2", "row3"] and result.references == references
    assert result.predictions == ["Rain fell", "", "Snow in Rome today again", "one two three four five six"]
    assert result.lengths == [2, 0, 5, 6]
    from metrics.scoring import summary_scores

    assert summary_scores(result.predictions, references, result.lengths)["eval_gen_len"] == 13 / 4


def test_decoding_stops_at_the_first_eos_even_if_tokens_follow(tokenizer):
    """Whatever follows the first EOS (another sentence, more EOS) is not part of the summary."""
    eos = tokenizer.eos_token_id
    words = encode(tokenizer, " The end")
    after = encode(tokenizer, " never read")
    tokens = torch.tensor([words + [eos] + after + [eos],
                           [eos] + after + after + [eos],
                           words + words + [eos, eos]])
    assert tokens_before_eos(tokens, eos) == [len(words), 0, 2 * len(words)]
    assert decode_until_eos(tokens, tokenizer) == ["The end", "", "The end The end"]
    no_eos = torch.tensor([after + after])
    assert tokens_before_eos(no_eos, eos) == [2 * len(after)]
    assert decode_until_eos(no_eos, tokenizer) == ["never read never read"]
