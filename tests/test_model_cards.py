"""Model cards (written, parsed back, usage code that runs) and Hub pushes (patched: no network)."""

from __future__ import annotations

import hashlib
import os
import re

import pytest
import torch
from huggingface_hub import HfApi, ModelCard
from peft import LoraConfig, PeftModel, PromptTuningConfig, get_peft_model
from transformers import GPT2Config, GPT2LMHeadModel

from core.errors import BadInputError
from model_cards import build_model_card, files_to_upload, push_run_to_hub, write_model_card
from peft_methods import METHODS
from peft_methods.lora import LoraMethodConfig
from peft_methods.soft_prompt import SoftPromptConfig, build_soft_prompt_model
from summary_generation import PromptFormat, generation_prompt

from .conftest import make_tiny_gpt2

SEPARATOR = "\nTL;DR:"
GENERATION = {"max_new_tokens": 6, "num_beams": 2, "length_penalty": 1.0, "early_stopping": True,
              "summary_no_repeat_ngram_size": 3, "eos_token_id": 50256, "pad_token_id": 50256}
ARTICLE = "The city council approved a new park on Monday. Work starts in May. Residents welcomed the plan."


def fake_results(method: str = "lora", predict: bool = True) -> dict:
    results = {"method": method, "base_model": "gpt2", "trainable_params": 811_008, "total_params": 125_250_816,
               "trainable_percent": 0.6475, "train_runtime": 1234.5, "train_seconds_excluding_eval": 987.6,
               "train_tokens_per_second": 5321.7,
               "train_peak_accelerator_memory_mb": None, "train_peak_host_memory_mb": 2048.0, "train_loss": 2.71}
    if predict:
        for key, value in {"rouge1": 0.36123, "rouge2": 0.15049, "rougeL": 0.24777, "rougeLsum": 0.33388}.items():
            results.update({f"predict_{key}": value, f"predict_{key}_ci_low": value - 0.011,
                            f"predict_{key}_ci_high": value + 0.012})
        results["predict_samples"] = 500
    return results


def card_kwargs(method: str = "lora", predict: bool = True, **overrides) -> dict:
    return {"results": fake_results(method, predict),
            "hyperparameters": {"learning_rate": 2e-4, "num_train_epochs": 3.0, "max_length": 512, "lora_r": 16},
            "base_model": "gpt2", "dataset_name": "abisee/cnn_dailymail", "dataset_id": "abisee/cnn_dailymail",
            "separator": SEPARATOR,
            "generation": GENERATION, **overrides}


def test_card_round_trip(tmp_path):
    baselines = {"zero-shot": fake_results("zero-shot") | {"predict_rouge1": 0.2104},
                 "lead-3": fake_results("lead-3") | {"predict_rouge1": 0.3987}}
    path = write_model_card(str(tmp_path), **card_kwargs(baselines=baselines, license="mit"))
    card = ModelCard.load(path)
    assert card.data.base_model == "gpt2"
    assert card.data.library_name == "peft"
    assert card.data.license == "mit"
    assert card.data.pipeline_tag == "text-generation"
    assert card.data.datasets == ["abisee/cnn_dailymail"]
    assert {"summarization", "lora", "peft"} <= set(card.data.tags)
    scores = {result.metric_name: result for result in card.data.eval_results}
    assert sorted(scores) == ["ROUGE-1", "ROUGE-2", "ROUGE-L", "ROUGE-Lsum"]
    for name, key in [("ROUGE-1", "rouge1"), ("ROUGE-2", "rouge2"), ("ROUGE-L", "rougeL"), ("ROUGE-Lsum", "rougeLsum")]:
        assert scores[name].metric_value == pytest.approx(100 * fake_results()[f"predict_{key}"], abs=0.01)
        assert scores[name].metric_type == key
        assert scores[name].dataset_type == "abisee/cnn_dailymail"
        assert scores[name].task_type == "summarization"
    assert card.data.model_name
    body = card.text
    assert "| zero-shot | 21.04 |" in body and "| lead-3 | 39.87 |" in body  # baselines, in percent
    assert "| ROUGE-1 | 36.12 | [35.02, 37.32] |" in body  # test score with its 95% interval
    assert "no GPU was used" in body  # null accelerator memory
    assert "PeftModel.from_pretrained(base, REPO_OR_DIR)" in body and repr(SEPARATOR) in body
    assert 'ids["input_ids"].shape[1]:' in body
    assert "max_new_tokens=6, num_beams=2, length_penalty=1.0, early_stopping=True, pad_token_id=" in body
    assert "budget = 512 - len(sep) - 6" in body and "repeated 3-grams within the summary" in body


def test_card_efficiency_shows_compute_and_wall_time():
    """tokens/s is measured over the compute time, so the card shows that time, named apart from the wall time
    that also counts the evaluations during training."""
    text = build_model_card(**card_kwargs()).text
    section = text.split("## Efficiency\n")[1].split("\n## ")[0]
    rows = re.findall(r"^\| (.+?) \| (.+?) \|$", section, re.M)[1:]  # after the header row
    assert rows[:3] == [("train compute time, evaluation excluded (s)", "987.6"),
                        ("training tokens/s (non-padding, over the compute time)", "5,322"),
                        ("train wall time, evaluation during training included (s)", "1,234")]
    results = fake_results()
    del results["train_seconds_excluding_eval"]  # not recorded: no row, rather than another time in its place
    text = build_model_card(**card_kwargs(results=results)).text
    assert "train compute time" not in text and "train wall time, evaluation during training included" in text


def test_card_without_predict_scores(tmp_path):
    path = write_model_card(str(tmp_path), **card_kwargs("full", predict=False))
    card = ModelCard.load(path)
    assert card.data.eval_results is None
    assert card.data.library_name == "transformers"
    assert "Test results" not in card.text and "Baselines" not in card.text
    assert "AutoModelForCausalLM.from_pretrained(REPO_OR_DIR)" in card.text


def test_head_card_uses_project_loader():
    text = build_model_card(**card_kwargs("head", repo_id="me/gpt2-head")).text
    assert "from peft_methods.loading import load_trained_model" in text
    assert "model = load_trained_model(REPO_OR_DIR)[0]" in text and "REPO_OR_DIR = 'me/gpt2-head'" in text
    assert "python summarize.py --run_dir RUN_DIR < article.txt" in text


# -- the usage code really runs ---------------------------------------------------------------------------------

def test_peft_prompt_tuning_generate_returns_prompt_then_new_tokens(tmp_path):
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=1000, bos_token_id=1, eos_token_id=1)
    get_peft_model(GPT2LMHeadModel(config), PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4)
                   ).save_pretrained(str(tmp_path))
    model = PeftModel.from_pretrained(GPT2LMHeadModel(config), str(tmp_path)).eval()
    ids = {"input_ids": torch.tensor([[5, 6, 7, 8, 9]]), "attention_mask": torch.ones(1, 5, dtype=torch.long)}
    for num_beams in (1, 2):
        out = model.generate(**ids, max_new_tokens=6, num_beams=num_beams, min_new_tokens=6, pad_token_id=0)
        # PEFT returns the prompt ids (no virtual tokens) + the new ones, so the snippet's slice is the summary.
        assert out.shape == (1, 5 + 6)
        assert out[0, :5].tolist() == ids["input_ids"][0].tolist()
        assert out[0, ids["input_ids"].shape[1]:].shape == (6,)


def run_snippet(card: ModelCard, article: str = ARTICLE) -> dict:
    code = re.search(r"```python\n(.*?)```", card.text, re.S).group(1)
    namespace: dict = {}
    exec(code.replace('article = "..."', f"article = {article!r}"), namespace)
    return namespace


@pytest.mark.parametrize("method", ["prompt", "lora", "full", "dora"])
def test_usage_snippet_runs(method, tmp_path, tiny_model_dir, tokenizer):
    base = GPT2LMHeadModel.from_pretrained(tiny_model_dir) if method != "full" else make_tiny_gpt2(seed=1)
    if method == "prompt":  # the project's own wrapper, saved in PEFT's format
        model = build_soft_prompt_model(base, SoftPromptConfig(num_virtual_tokens=4), tokenizer)
        with torch.no_grad():
            model.prompt_embeddings.normal_()
    elif method == "lora":
        model = get_peft_model(base, LoraConfig(task_type="CAUSAL_LM", r=2, target_modules=["c_attn"],
                                                fan_in_fan_out=True, init_lora_weights=False))
    elif method == "dora":  # the registry's row, as a run builds it
        model = METHODS["dora"].build(base, LoraMethodConfig(lora_r=2), tokenizer)
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(std=0.1)
    else:
        model = base
    model.save_pretrained(str(tmp_path))
    generation = {"max_new_tokens": 5, "min_new_tokens": 5, "num_beams": 1, "do_sample": False}
    card = build_model_card(**card_kwargs(method, base_model=tiny_model_dir, repo_id=str(tmp_path),
                                          generation=generation))
    namespace = run_snippet(card)
    prompt, out = namespace["prompt"], namespace["out"]
    assert out[0, :len(prompt)].tolist() == prompt and out.shape[1] == len(prompt) + 5
    assert isinstance(namespace["summary"], str)
    assert set(card.data.tags) == {"summarization", *METHODS[method].tags}
    assert card.data.library_name == ("peft" if METHODS[method].peft_type else "transformers")
    if method == "dora":
        assert METHODS[method].tags == ["dora", "peft", "lora"]
        assert namespace["model"].peft_config["default"].use_dora  # the card's code loads it as DoRA
    if method == "prompt":  # PEFT's generate from our saved prompt == our wrapper's generate
        ids = torch.tensor([prompt])
        ours = model.eval().generate(input_ids=ids, attention_mask=torch.ones_like(ids), **generation,
                                     pad_token_id=tokenizer.eos_token_id)
        assert ours.tolist() == out.tolist()


@pytest.mark.parametrize("prefix", ["", "Summarize the article in one sentence.\n\n"])
def test_prompt_tuning_snippet_cuts_a_long_article_as_the_pipeline_does(prefix, tmp_path, tiny_model_dir, tokenizer):
    """The snippet's budget formula (soft prompt, prefix, separator and summary room out of max_length) gives the
    pipeline's own prompt ids on an article far longer than the budget."""
    virtual, max_length, new_tokens = 4, 96, 5
    model = build_soft_prompt_model(GPT2LMHeadModel.from_pretrained(tiny_model_dir),
                                    SoftPromptConfig(num_virtual_tokens=virtual), tokenizer)
    model.save_pretrained(str(tmp_path))
    article = " ".join(f"Paragraph {i}: the council met again and argued about the budget." for i in range(30))
    generation = {"max_new_tokens": new_tokens, "num_beams": 1, "do_sample": False}
    card = build_model_card(**card_kwargs("prompt", base_model=tiny_model_dir, repo_id=str(tmp_path),
                                          generation=generation, hyperparameters={"max_length": max_length},
                                          prefix=prefix, num_virtual_tokens=virtual))
    prompt = run_snippet(card, article)["prompt"]
    prompt_format = PromptFormat(separator=SEPARATOR, max_length=max_length, num_virtual_tokens=virtual,
                                 max_new_tokens=new_tokens, prefix=prefix)
    article_ids = tokenizer(article, add_special_tokens=False)["input_ids"]
    expected = generation_prompt(article_ids, prompt_format.encode(tokenizer), prompt_format)
    assert len(article_ids) > 3 * max_length and len(expected) + virtual + new_tokens == max_length  # it binds
    assert prompt == expected


def test_head_usage_snippet_runs(tmp_path, tiny_model_dir, tokenizer):
    """The card's head snippet loads the run with the project's `peft_methods.loading.load_trained_model`."""
    from peft_methods.head import METHOD, HeadConfig

    model = METHOD.build(GPT2LMHeadModel.from_pretrained(tiny_model_dir), HeadConfig(), tokenizer)
    METHOD.save(model, str(tmp_path))
    tokenizer.save_pretrained(str(tmp_path))
    (tmp_path / "all_results.json").write_text('{"method": "head"}')
    generation = {"max_new_tokens": 5, "min_new_tokens": 5, "num_beams": 1, "do_sample": False}
    card = build_model_card(**card_kwargs("head", base_model=tiny_model_dir, repo_id=str(tmp_path),
                                          generation=generation))
    namespace = run_snippet(card)
    assert namespace["out"].shape[1] == len(namespace["prompt"]) + 5


# -- pushing ----------------------------------------------------------------------------------------------------

TOKEN = "hf_SECRETtoken123"


def fake_run(tmp_path, method: str = "lora") -> str:
    run = tmp_path / "run"
    files = {
        "adapter_config.json": "{}", "adapter_model.safetensors": "A", "README.md": "# card",
        "all_results.json": f'{{"method": "{method}"}}', "train_results.json": "{}", "predict_results.json": "{}",
        "generated_predictions.jsonl": "{}\n", "trainer_state.json": "{}", "loss_curves.png": "PNG",
        "prompt_format.json": "{}", "tokenizer.json": "{}", "tokenizer_config.json": "{}", "vocab.json": "{}",
        "merges.txt": "", "training_args.bin": "PICKLE", "model.safetensors": "BASE", "pytorch_model.bin": "BASE",
        "config.json": "{}", "optimizer.pt": "O", "checkpoint-500/adapter_model.safetensors": "A",
        "trainable_weights.safetensors": "H", "method_config.json": "{}",
        "checkpoint-500/optimizer.pt": "O", "checkpoint-500/trainer_state.json": "{}",
        "runs/Jan01/events.out.tfevents.1": "E", "runs/Jan01/plot.png": "P",
    }
    for name, text in files.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(text)
    return str(run)


def snapshot(folder: str) -> dict:
    return {os.path.join(root, name): hashlib.sha256(open(os.path.join(root, name), "rb").read()).hexdigest()
            for root, _, names in os.walk(folder) for name in names}


@pytest.fixture
def hub_calls(monkeypatch):
    calls = []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", repo_id, kwargs))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kwargs):
        calls.append(("upload_folder", kwargs["repo_id"], kwargs))

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return calls


@pytest.mark.parametrize("method", ["lora", "prompt", "head", "dora"])
def test_push_uploads_only_run_outputs(method, tmp_path, hub_calls):
    run = fake_run(tmp_path, method)
    before = snapshot(run)
    files = files_to_upload(run)
    adapter, head = {"adapter_config.json", "adapter_model.safetensors"}, {"trainable_weights.safetensors",
                                                                          "method_config.json"}
    own, other = (head, adapter) if method == "head" else (adapter, head)
    assert own | {"README.md", "all_results.json", "predict_results.json", "generated_predictions.jsonl",
                  "loss_curves.png", "tokenizer.json", "prompt_format.json"} <= set(files)
    assert not [f for f in files if f in {"model.safetensors", "pytorch_model.bin", "training_args.bin",
                                          "optimizer.pt", "config.json", *other} or "/" in f]
    url = push_run_to_hub(run, "me/gpt2-lora-cnn", token=TOKEN, private=True)
    assert url == "https://huggingface.co/me/gpt2-lora-cnn"
    (_, repo, create), (_, repo2, upload) = hub_calls
    assert repo == repo2 == "me/gpt2-lora-cnn"
    assert create["private"] is True and create["exist_ok"] is True and create["token"] == TOKEN
    assert upload["token"] == TOKEN and upload["folder_path"] == run
    # What upload_folder selects with the patterns it was given is exactly files_to_upload's list.
    from huggingface_hub.utils import filter_repo_objects
    every = [os.path.relpath(p, run).replace(os.sep, "/") for p in snapshot(run)]
    assert sorted(filter_repo_objects(every, allow_patterns=upload["allow_patterns"],
                                      ignore_patterns=upload["ignore_patterns"])) == files
    assert snapshot(run) == before
    assert not any(TOKEN.encode() in open(p, "rb").read() for p in snapshot(str(tmp_path)))


def test_full_run_uploads_the_model(tmp_path, hub_calls):
    run = fake_run(tmp_path, "full")
    (tmp_path / "run" / "generation_config.json").write_text("{}")
    files = files_to_upload(run)
    assert {"model.safetensors", "config.json", "generation_config.json"} <= set(files)
    assert "pytorch_model.bin" not in files and "training_args.bin" not in files


@pytest.mark.parametrize("error", [OSError("Network is unreachable"),
                                   ConnectionError(f"401 Unauthorized for token {TOKEN}\nsecond line")])
def test_push_failure_is_one_line_and_changes_nothing(error, tmp_path, monkeypatch):
    run = fake_run(tmp_path)
    before = snapshot(str(tmp_path))

    def fail(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(HfApi, "create_repo", fail)
    with pytest.raises(BadInputError) as caught:
        push_run_to_hub(run, "me/x", token=TOKEN)
    message = str(caught.value)
    assert "\n" not in message and TOKEN not in message
    assert message.startswith("push to the Hub failed (") and f"the run is in {run}" in message
    assert "retry with" in message
    assert snapshot(str(tmp_path)) == before


def test_push_offline_real_client(tmp_path, monkeypatch):
    """The unpatched client under HF_HUB_OFFLINE fails before any network use, and that becomes a BadInputError."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    run = fake_run(tmp_path)
    before = snapshot(str(tmp_path))
    with pytest.raises(BadInputError, match="push to the Hub failed"):
        push_run_to_hub(run, "me/x", token=TOKEN)
    assert snapshot(str(tmp_path)) == before


def test_push_rejects_empty_or_missing_folder(tmp_path, hub_calls):
    with pytest.raises(BadInputError, match="no such run folder"):
        push_run_to_hub(str(tmp_path / "missing"), "me/x")
    (tmp_path / "checkpoint-1").mkdir()
    (tmp_path / "checkpoint-1" / "adapter_model.safetensors").write_text("A")
    with pytest.raises(BadInputError, match="holds no run outputs"):
        push_run_to_hub(str(tmp_path), "me/x")
    assert hub_calls == []
