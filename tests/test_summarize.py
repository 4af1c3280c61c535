"""The inference command reproduces each run's own predictions, and PEFT-format runs work with plain PEFT."""

import json
import os

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import summarize
from peft_methods import METHODS
from summarization_training import command_line


def first_prediction(run_dir):
    with open(os.path.join(run_dir, "generated_predictions.jsonl")) as handle:
        return json.loads(handle.readline())


def article(news_dir, example_id):
    import csv

    with open(os.path.join(news_dir, "test.csv"), newline="") as handle:
        return next(row["article"] for row in csv.DictReader(handle) if row["id"] == example_id)


@pytest.mark.parametrize("method", list(METHODS))
def test_summarize_command_equals_the_runs_predictions(method, runs, news_dir, tmp_path, capsys):
    expected = first_prediction(runs[method])
    path = tmp_path / "article.txt"
    path.write_text(article(news_dir, expected["id"]))
    summarize.main(["--run_dir", runs[method], str(path)])
    assert capsys.readouterr().out.strip() == expected["prediction"]


@pytest.mark.parametrize("method", ["prompt", "lora"])
def test_peft_format_runs_work_with_plain_peft(method, runs, news_dir, tiny_model_dir):
    """The card's snippet: PeftModel.from_pretrained + generate, prompt sliced off, same summary."""
    from peft import PeftModel

    expected = first_prediction(runs[method])
    tokenizer = AutoTokenizer.from_pretrained(runs[method])
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), runs[method]).eval()
    prompt_format = summarize.load_prompt_format(runs[method])
    ids = summarize.generation_prompt(tokenizer(article(news_dir, expected["id"]))["input_ids"],
                                      prompt_format.encode(tokenizer), prompt_format)
    inputs = torch.tensor([ids])
    output = model.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=16,
                            do_sample=False, pad_token_id=tokenizer.eos_token_id)
    summary = tokenizer.decode(output[0, inputs.shape[1]:], skip_special_tokens=True).strip()
    assert summary == expected["prediction"]


def test_summarize_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        summarize.main(["--run_dir", str(tmp_path), str(tmp_path / "missing.txt")])
    assert exit_info.value.code == 2
    assert "has no prompt_format.json" in capsys.readouterr().err


def record_generation(monkeypatch, generate: bool = True) -> list:
    """The (prompt, generation config) of every generate call summarize.py makes; without `generate` the
    summary is a bare EOS (the prompt is what is checked, not ~200 decoding steps)."""
    calls, real = [], summarize.generate_summary_ids

    def recording(model, input_ids, attention_mask, generation_config):
        calls.append((input_ids[0].tolist(), generation_config))
        if not generate:
            return torch.tensor([[generation_config.eos_token_id]])
        return real(model, input_ids, attention_mask, generation_config)

    monkeypatch.setattr(summarize, "generate_summary_ids", recording)
    return calls


@pytest.mark.parametrize("method", ["lora", "prompt"])  # prompt: the soft prompt's positions count too
def test_max_new_tokens_keeps_the_runs_minimum_article(method, runs, news_dir, tmp_path, capsys, monkeypatch):
    """Up to the limit the prompt keeps exactly min_article_tokens of article; one token more is refused."""
    run_dir = runs[method]
    prompt_format = summarize.load_prompt_format(run_dir)
    separator = AutoTokenizer.from_pretrained(run_dir)(prompt_format.separator, add_special_tokens=False)["input_ids"]
    limit = (prompt_format.max_length - prompt_format.num_virtual_tokens - len(separator)
             - prompt_format.min_article_tokens)
    path = tmp_path / "article.txt"
    path.write_text(article(news_dir, first_prediction(run_dir)["id"]))
    calls = record_generation(monkeypatch, generate=False)
    summarize.main(["--run_dir", run_dir, "--max_new_tokens", str(limit), str(path)])
    (prompt, config), = calls
    assert len(prompt) == prompt_format.min_article_tokens + len(separator) and prompt[-len(separator):] == separator
    assert config.max_new_tokens == limit
    capsys.readouterr()

    with pytest.raises(SystemExit) as exit_info:
        summarize.main(["--run_dir", run_dir, "--max_new_tokens", str(limit + 1), str(path)])
    assert exit_info.value.code == 2 and len(calls) == 1
    captured = capsys.readouterr()
    error = captured.err.splitlines()[-1]  # after the weight-loading progress bar
    assert captured.out == "" and captured.err.endswith(error + "\n")
    assert error.startswith(f"summarize.py: error: --max_new_tokens {limit + 1} leaves "
                            f"{prompt_format.min_article_tokens - 1} article tokens")
    assert f"min_article_tokens {prompt_format.min_article_tokens}" in error
    assert error.endswith(f"use --max_new_tokens {limit} or less")


def test_overrides_build_the_pipelines_generation_config(runs, tiny_model_dir, news_dir, tokenizer, tmp_path,
                                                         monkeypatch):
    """A greedy run summarized with --num_beams 4 generates with the config of a run made with
    --generation_num_beams 4: early_stopping follows the beam width instead of keeping the greedy run's False."""

    from .conftest import cli

    argv = cli(tiny_model_dir, news_dir, str(tmp_path / "beam-run"), "lora",
               "--generation_num_beams", "4", "--generation_max_new_tokens", "8")
    expected = command_line.parse_arguments(argv)[-1].generation_config(tokenizer)
    path = tmp_path / "article.txt"
    path.write_text(article(news_dir, first_prediction(runs["lora"])["id"]))
    calls = record_generation(monkeypatch)
    summarize.main(["--run_dir", runs["lora"], "--num_beams", "4", "--max_new_tokens", "8", str(path)])
    (_, config), = calls
    assert config.num_beams == 4 and config.early_stopping is True
    assert config.to_dict() == expected.to_dict()


@pytest.mark.parametrize("flag", ["--num_beams", "--max_new_tokens"])
def test_summarize_refuses_a_non_positive_override(flag, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        summarize.main(["--run_dir", str(tmp_path), flag, "0"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"summarize.py: error: {flag} must be at least 1 (got 0)\n"
