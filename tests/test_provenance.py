"""Provenance and forgetting: what every run folder records about where its numbers came from, fingerprints that
change exactly when the data or the weights do, and the general-text loss against an independent computation."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch
from transformers import AutoModelForCausalLM

from core import run_folder
from core.provenance import PACKAGES, REDACTED, data_fingerprint, environment, model_fingerprint
from peft_methods import METHODS
from summarization_training.forgetting import TOKENS, general_text_loss

from .conftest import RUN_METHODS, make_tiny_gpt2

TEXTS = ["The council approved the new budget on Monday after a long debate.",
         "Heavy rain flooded several roads in the north of the city overnight.",
         "Shares in the chip maker rose sharply after it reported record profits."]


def test_data_fingerprint_changes_with_any_example_and_only_then():
    examples = {"id": ["a", "b"], "article": ["one", "two"], "highlights": ["x", "y"]}
    columns = ("id", "article", "highlights")
    same = data_fingerprint({key: list(values) for key, values in examples.items()}, columns)
    assert data_fingerprint(examples, columns) == same and len(same) == 64
    for key in columns:
        changed = {**examples, key: [examples[key][0], examples[key][1] + "!"]}
        assert data_fingerprint(changed, columns) != same, key
    reordered = {key: values[::-1] for key, values in examples.items()}
    assert data_fingerprint(reordered, columns) != same  # the sample, in order


def test_recorded_command_hides_the_hub_token_in_both_flag_forms():
    argv = ["--method", "lora", "--hub_token", "hf_abc", "--hub_token=hf_def", "--hub_model_id", "me/x"]
    command = environment("run_summarization.py", argv)["command"]
    assert "hf_abc" not in str(command) and "hf_def" not in str(command)
    assert command == ["run_summarization.py", "--method", "lora", "--hub_token", REDACTED, f"--hub_token={REDACTED}",
                       "--hub_model_id", "me/x"]


def test_model_fingerprint_changes_with_one_weight_and_not_with_the_path(tmp_path):
    model = make_tiny_gpt2(seed=0)
    before = model_fingerprint(model)
    model.save_pretrained(tmp_path / "copy")
    assert model_fingerprint(AutoModelForCausalLM.from_pretrained(tmp_path / "copy")) == before
    with torch.no_grad():
        model.transformer.h[1].mlp.c_fc.weight[3, 5] += 1e-3
    after = model_fingerprint(model)
    assert after["weights_sha256"] != before["weights_sha256"] and after["config_sha256"] == before["config_sha256"]


def independent_loss(model, tokenizer, texts) -> float:
    """One text at a time, no padding, the model's own loss (mean over its predicted tokens), re-weighted."""
    model.eval()
    total, count = 0.0, 0
    for text in texts:
        ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"][:TOKENS]])
        with torch.no_grad():
            loss = model(input_ids=ids, labels=ids).loss
        total += float(loss) * (ids.shape[1] - 1)
        count += ids.shape[1] - 1
    return total / count


def test_general_text_loss_equals_an_unpadded_computation(tokenizer):
    model = make_tiny_gpt2(seed=1)
    expected = independent_loss(model, tokenizer, TEXTS)
    for batch_size in (1, 2, 3):  # padding inside a batch changes nothing
        assert general_text_loss(model, tokenizer, TEXTS, batch_size=batch_size) == pytest.approx(expected, rel=1e-5)
    long_text = " ".join(TEXTS * 20)  # only the first TOKENS tokens count
    assert general_text_loss(model, tokenizer, [long_text]) == pytest.approx(
        independent_loss(model, tokenizer, [long_text]), rel=1e-5)


def test_general_text_loss_of_a_soft_prompt_model_scores_the_text_after_the_prompt(tokenizer):
    from peft_methods.soft_prompt import SoftPromptConfig

    model = METHODS["prompt"].build(make_tiny_gpt2(seed=1), SoftPromptConfig(num_virtual_tokens=4), tokenizer)
    with torch.no_grad():
        model.prompt_embeddings.normal_(std=1.0)
    model.eval()
    total, count = 0.0, 0
    for text in TEXTS:
        ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
        labels = ids.clone()
        labels[0, 0] = -100  # the same tokens as the base model's loss: each predicted from text before it
        with torch.no_grad():  # SoftPromptModel labels the virtual positions -100 itself
            total += float(model(input_ids=ids, labels=labels).loss) * (ids.shape[1] - 1)
        count += ids.shape[1] - 1
    assert general_text_loss(model, tokenizer, TEXTS, batch_size=2) == pytest.approx(total / count, rel=1e-5)


@pytest.mark.parametrize("method", RUN_METHODS)
def test_every_run_folder_records_its_provenance_and_forgetting(runs, method):
    folder = runs[method]
    with open(os.path.join(folder, run_folder.PROVENANCE)) as handle:
        provenance = json.load(handle)
    assert provenance["command"][0] == "run_summarization.py" and "--method" in provenance["command"]
    assert provenance["command"][provenance["command"].index("--method") + 1] == method
    assert set(provenance["packages"]) == set(PACKAGES) and provenance["packages"]["torch"] == torch.__version__
    assert provenance["git"] is None or (len(provenance["git"]["commit"]) == 40
                                         and isinstance(provenance["git"]["dirty"], bool))
    assert provenance["device"]["cpu_count"] == os.cpu_count()
    assert set(provenance["data"]) == {"train", "validation", "test"}
    assert all(len(digest) == 64 for digest in provenance["data"].values())
    results = run_folder.read_results(folder)
    assert results["test_data_fingerprint"] == provenance["data"]["test"]
    assert results["base_model_fingerprint"] == provenance["base_model"]["weights_sha256"]
    assert results["forgetting"] == pytest.approx(results["general_text_loss"] - results["base_general_text_loss"])
    assert math.isfinite(results["general_text_loss"]) and results["learning_rate"] > 0
    with open(os.path.join(folder, run_folder.MODEL_CARD)) as handle:
        card = handle.read()
    assert "## Provenance" in card and provenance["data"]["test"][:12] in card


def test_runs_share_data_and_base_fingerprints_and_the_base_loss(runs):
    results = {method: run_folder.read_results(folder) for method, folder in runs.items()}
    for key in ("test_data_fingerprint", "train_data_fingerprint", "base_model_fingerprint", "base_general_text_loss"):
        assert len({r[key] for r in results.values()}) == 1, key
    # The base model's fingerprint is the weights it was loaded from, recomputed here.
    base = AutoModelForCausalLM.from_pretrained(results["lora"]["base_model_name_or_path"])
    assert model_fingerprint(base)["weights_sha256"] == results["lora"]["base_model_fingerprint"]
    # Full fine-tuning changes the model itself, so its general-text loss moved.
    assert results["full"]["forgetting"] != 0
