"""The inference command reproduces each run's own predictions, and PEFT-format runs work with plain PEFT."""

import json
import os

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import summarize
from peft_methods import METHODS


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
                                      tokenizer(prompt_format.separator)["input_ids"], prompt_format)
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
