"""End-to-end runs of run_summarization.py on a tiny GPT-2 and generated news, one per method,
plus every bad input the script must refuse with one line and exit code 2."""

import json
import math
import os
import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

import run_summarization
from core import config_files
from peft_methods import METHODS, RUNNABLE
from summarization_training import command_line, method_configs

from .conftest import RUN_MAX_NEW_TOKENS, RUN_METHODS, SUMMARY_TRAIN, base_spec, cli, takes_lora_flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT_KEYS = {
    "method", "trainable_params", "total_params", "trainable_percent", "train_runtime", "train_samples",
    "train_tokens", "train_tokens_per_second", "train_peak_accelerator_memory_mb", "train_peak_host_memory_mb",
    "eval_loss", "eval_runtime", "eval_peak_accelerator_memory_mb", "eval_peak_host_memory_mb",
}
ROUGE_KEYS = {f"{rouge}{suffix}" for rouge in ("rouge1", "rouge2", "rougeL", "rougeLsum")
              for suffix in ("", "_precision", "_recall", "_ci_low", "_ci_high")}
GENERATION_KEYS = {f"{prefix}_{key}" for prefix in ("eval", "predict")
                   for key in ROUGE_KEYS | {"gen_len", "loss", "runtime", "samples_per_second",
                                            "peak_accelerator_memory_mb", "peak_host_memory_mb", "samples"}}
def read_results(folder):
    with open(os.path.join(folder, "all_results.json")) as handle:
        return json.load(handle)


# The methods whose summaries stop by themselves in the runs' budget (a soft prompt on 2 blocks still rambles).
STOPPING = ("lora", "ia3", "head", "full")


def read_predictions(folder):
    with open(os.path.join(folder, "generated_predictions.jsonl")) as handle:
        return [json.loads(line) for line in handle]


def articles_cut_by_hand(run_dir, news_dir) -> int:
    """Test articles longer than the generation prompt's room: max_length less soft prompt, prompt format and the
    summary's max_new_tokens (from the run's prompt_format.json)."""
    import csv

    from transformers import AutoTokenizer

    from summary_generation import load_prompt_format

    prompt_format, tokenizer = load_prompt_format(run_dir), AutoTokenizer.from_pretrained(run_dir)
    room = prompt_format.generation_article_budget(sum(map(len, prompt_format.encode(tokenizer))))
    with open(os.path.join(news_dir, "test.csv"), newline="") as handle:
        lengths = [len(tokenizer(row["article"].strip(), add_special_tokens=False)["input_ids"])
                   for row in csv.DictReader(handle)]
    return sum(length > room for length in lengths)


@pytest.mark.parametrize("method", RUN_METHODS)
def test_run_writes_every_result_key_state_and_plot(runs, method, news_dir):
    folder = runs[method]
    results = read_results(folder)
    assert RESULT_KEYS | GENERATION_KEYS <= set(results), (RESULT_KEYS | GENERATION_KEYS) - set(results)
    assert results["method"] == method
    assert results["eval_samples"] == 8 and results["eval_generated_samples"] == 4
    assert results["predict_samples"] == results["predict_generated_samples"] == 8
    assert all(0 <= results[f"predict_{key}"] <= 1 for key in ROUGE_KEYS)
    for rouge in ("rouge1", "rougeL", "rougeLsum"):  # the runs learned something: summaries share words
        assert 0.03 < results[f"predict_{rouge}"], (rouge, results[f"predict_{rouge}"])
        low, value, high = (results[f"predict_{rouge}{suffix}"] for suffix in ("_ci_low", "", "_ci_high"))
        assert low <= value <= high and low < high
    assert 0 < results["predict_gen_len"] <= RUN_MAX_NEW_TOKENS
    if method in STOPPING:  # most summaries end with EOS before the limit
        assert results["predict_gen_len"] < 0.9 * RUN_MAX_NEW_TOKENS, results["predict_gen_len"]
    assert results["train_samples"] == SUMMARY_TRAIN and results["train_tokens"] > SUMMARY_TRAIN * 100
    assert results["train_tokens_per_second"] > 0 and results["train_peak_host_memory_mb"] > 100
    # Far below chance (ln 50,257 = 10.8 nats per token): the pretrained base fine-tuned on the task.
    assert 0 < results["eval_loss"] < math.log(50257) / 2 and 0 < results["predict_loss"] < math.log(50257) / 2
    # One denominator for every method: the base model's own parameters (LoRA adds to the total, an untied head too).
    base_params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(results["base_model_name_or_path"]).parameters())
    assert results["base_params"] == base_params
    assert results["trainable_percent"] == pytest.approx(100 * results["trainable_params"] / base_params)
    assert results["predict_articles_cut"] == articles_cut_by_hand(folder, news_dir)
    if torch.cuda.is_available():
        assert results["train_peak_accelerator_memory_mb"] > 0
    else:
        assert results["train_peak_accelerator_memory_mb"] is None
    with open(os.path.join(folder, "trainer_state.json")) as handle:
        state = json.load(handle)
    evaluations = [entry for entry in state["log_history"] if "eval_loss" in entry]
    assert [entry["epoch"] for entry in evaluations] == [1.0, 2.0]  # evaluated each epoch
    assert state["best_metric"] == min(entry["eval_loss"] for entry in evaluations) == results["eval_loss"]
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert losses and losses[-1] < losses[0]  # the training loss fell
    assert os.path.getsize(os.path.join(folder, "loss_curves.png")) > 10_000
    assert os.path.isfile(os.path.join(folder, "README.md"))


@pytest.mark.parametrize("method", RUN_METHODS)
def test_run_folder_and_checkpoints_hold_only_what_trained(runs, method):
    folder = runs[method]
    checkpoints = [os.path.join(folder, d) for d in os.listdir(folder) if d.startswith("checkpoint-")]
    assert checkpoints
    for place in [folder, *checkpoints]:
        files = set(os.listdir(place))
        if METHODS[method].peft_type:
            assert {"adapter_config.json", "adapter_model.safetensors"} <= files
            assert "model.safetensors" not in files
        elif method == "head":
            saved = load_file(os.path.join(place, "trainable_weights.safetensors"))
            assert set(saved) == {"lm_head.weight"}
            assert "model.safetensors" not in files
        else:
            assert "model.safetensors" in files
    if method == "prompt":
        saved = load_file(os.path.join(folder, "adapter_model.safetensors"))
        assert list(saved) == ["prompt_embeddings"] and saved["prompt_embeddings"].shape == (6, base_spec().n_embd)


@pytest.mark.parametrize("method", RUN_METHODS)
def test_predictions_file_has_one_prompt_free_summary_per_test_example(runs, method, summary_dir, news_dir, tokenizer):
    import csv

    rows = read_predictions(runs[method])
    with open(os.path.join(summary_dir, "test.csv"), newline="") as handle:
        references = {row["id"]: row["highlights"] for row in csv.DictReader(handle)}
    with open(os.path.join(news_dir, "test.csv"), newline="") as handle:
        news_ids = [row["id"] for row in csv.DictReader(handle)]
    assert [row["id"] for row in rows] == list(references) == news_ids  # test order; news_dir's articles
    for row in rows:
        assert set(row) == {"id", "reference", "prediction"}
        assert row["reference"] == references[row["id"]]  # the decoded labels are the original highlights
        assert "TL;DR" not in row["prediction"] and "<|endoftext|>" not in row["prediction"]
        assert row["prediction"].strip()
    predictions = [row["prediction"] for row in rows]
    assert len(set(predictions)) >= 4, predictions  # summaries depend on the article
    lengths = [len(tokenizer(text)["input_ids"]) for text in predictions]
    if method in STOPPING:  # stopped at EOS partway through the batch, not cut at the limit
        assert sum(length < RUN_MAX_NEW_TOKENS - 2 for length in lengths) >= 3, lengths


def test_saved_weights_are_the_best_epoch(runs):
    """load_best_model_at_end: the final save equals the checkpoint with the lowest eval_loss, not the other one."""
    folder = runs["lora"]
    with open(os.path.join(folder, "trainer_state.json")) as handle:
        state = json.load(handle)
    best = os.path.basename(state["best_model_checkpoint"])
    best_step = int(best.split("-")[1])
    evaluations = {entry["step"]: entry["eval_loss"] for entry in state["log_history"] if "eval_loss" in entry}
    assert evaluations[best_step] == min(evaluations.values())
    final = load_file(os.path.join(folder, "adapter_model.safetensors"))
    at_best = load_file(os.path.join(folder, best, "adapter_model.safetensors"))
    assert final.keys() == at_best.keys()
    assert all(torch.equal(final[k], at_best[k]) for k in final)
    others = [d for d in os.listdir(folder) if d.startswith("checkpoint-") and d != best]
    assert others  # the other epoch's weights differ: the equality above is not trivial
    other = load_file(os.path.join(folder, others[0], "adapter_model.safetensors"))
    assert not all(torch.equal(final[k], other[k]) for k in final)


def test_trained_soft_prompt_differs_from_its_init_and_frozen_base_is_untouched(runs, tiny_model_dir, tokenizer):
    from transformers import AutoModelForCausalLM

    from peft_methods.soft_prompt import SoftPromptModel

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    frozen = {name: tensor.clone() for name, tensor in base.state_dict().items()}
    model = SoftPromptModel.from_pretrained(base, runs["prompt"])
    init_ids = tokenizer("[SUMMARIZE]")["input_ids"]
    assert init_ids == [58, 50, 5883, 40569, 35400, 60]
    init = base.transformer.wte.weight[init_ids]
    assert init.abs().sum() > 0  # the init tokens have embeddings of their own in the pretrained base
    assert not torch.allclose(model.prompt_embeddings, init)
    assert all(torch.equal(frozen[name], tensor) for name, tensor in base.state_dict().items())


def test_yaml_config_file_gives_the_same_arguments_as_the_command_line(tmp_path, tiny_model_dir, news_dir):
    config = tmp_path / "lora.yaml"
    config.write_text(yaml.safe_dump({
        "method": "lora", "model_name_or_path": tiny_model_dir, "data_dir": news_dir,
        "output_dir": str(tmp_path / "out"), "lora_r": 4, "lora_target_modules": ["c_attn", "c_proj"],
        "do_train": True, "learning_rate": 1e-3,
    }))
    from_yaml = command_line.parse_arguments([str(config)])
    from_cli = command_line.parse_arguments(
        ["--method", "lora", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir, "--output_dir",
         str(tmp_path / "out"), "--lora_r", "4", "--lora_target_modules", "c_attn", "c_proj", "--do_train",
         "--learning_rate", "1e-3"])
    assert from_yaml[3] == from_cli[3]
    assert from_yaml[3].lora_target_modules == ["c_attn", "c_proj"]
    assert from_yaml[4].learning_rate == from_cli[4].learning_rate == 1e-3


# Small enough for a tiny model in seconds; everything else comes from the shipped config.
QUICK = ["--num_train_epochs", "1", "--max_train_samples", "8", "--max_eval_samples", "4", "--max_predict_samples", "4",
         "--per_device_train_batch_size", "8", "--generation_max_new_tokens", "8", "--generation_num_beams", "1",
         "--eval_generate_samples", "2"]


def quick(method):
    """QUICK, and a small rank for a method that takes LoRA's flags (any other refuses them)."""
    return [*QUICK, *(["--lora_r", "4"] if takes_lora_flags(method) else [])]


@pytest.mark.parametrize("name", list(RUNNABLE))
def test_shipped_configs_reproduce_the_assignment(name, tmp_path, tiny_model_dir, news_dir):
    config = os.path.join(REPO, "configs", f"{name}.yaml")
    _, data_args, method_args, _, training_args = command_line.parse_arguments([config])
    trains = name != "zero-shot"
    assert method_args.method == name and data_args.data_dir == "cnn_dailymail"
    assert data_args.max_predict_samples == 3_000 and data_args.max_length == 512
    # Every figure the assignment asks for: trained, evaluated, and the test split summarised and scored.
    assert (training_args.do_train, training_args.do_eval, training_args.do_predict) == (trains, trains, True)
    assert training_args.predict_with_generate and training_args.generation_num_beams == 4
    if trains:
        assert (data_args.max_train_samples, data_args.max_eval_samples) == (21_000, 6_000)
        assert training_args.num_train_epochs == 10 and training_args.early_stopping_patience == 3
        assert training_args.max_grad_norm == 1.0 and training_args.load_best_model_at_end
        # The rows' rates (configs/*.yaml are written from the rows).
        assert training_args.learning_rate == {"prompt": 1e-1, "lora": 1e-3, "ia3": 3e-3, "head": 2e-4, "full": 5e-5,
                                               "dora": 1e-3}[name]

    out = str(tmp_path / "out")
    run_summarization.main([config, "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir, "--output_dir",
                            out, *quick(name)])
    results = read_results(out)
    assert {f"predict_{key}" for key in ("rouge1", "rouge2", "rougeL", "rougeLsum", "gen_len")} <= set(results)
    assert ("eval_rougeLsum" in results) == trains and ("train_runtime" in results) == trains
    with open(os.path.join(out, "generated_predictions.jsonl")) as handle:
        assert len(handle.readlines()) == results["predict_samples"] == 4


def test_config_file_takes_overrides_and_the_later_value_wins(tmp_path, tiny_model_dir, news_dir):
    config = os.path.join(REPO, "configs", "lora.yaml")
    _, _, _, lora, training_args = command_line.parse_arguments(
        [config, "--lora_r", "8", "--predict_with_generate", "false", "--learning_rate", "1e-3"])
    assert lora.lora_r == 8 and lora.lora_alpha == 32  # overridden, and kept from the file
    assert not training_args.predict_with_generate and training_args.learning_rate == 1e-3
    json_config = tmp_path / "run.json"
    json_config.write_text(json.dumps({"method": "head", "output_dir": "x", "unfreeze_last_n_blocks": 1}))
    _, _, method_args, head, _ = command_line.parse_arguments([str(json_config), "--unfreeze_last_n_blocks", "2"])
    assert method_args.method == "head" and head.unfreeze_last_n_blocks == 2


@pytest.mark.parametrize("name", list(RUNNABLE))
def test_shipped_config_is_written_from_its_row(name):
    """configs/<name>.yaml holds what the row holds (its learning rate, its flags' defaults), never other values."""
    path, row = config_files.config_path(name), RUNNABLE[name]
    assert os.path.isfile(path), f"{path} is missing: python -m summarization_training.method_configs writes it"
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert text == method_configs.config_text(row), f"{path} differs from its row: python -m " \
                                                      "summarization_training.method_configs rewrites it"
    values = yaml.safe_load(text)
    assert values["method"] == name and {key: values[key] for key in row.defaults} == row.defaults
    assert ("learning_rate" in values) == row.trains


def test_a_method_trains_at_its_rows_learning_rate_with_or_without_a_config_file(tmp_path, monkeypatch):
    """Precedence: the command line, then the config file, then the row, never transformers' generic 5e-5."""
    expected = {"prompt": 1e-1, "lora": 1e-3, "ia3": 3e-3, "head": 2e-4, "full": 5e-5, "dora": 1e-3}

    def rates():
        return {name: command_line.parse_arguments(["--method", name, "--output_dir", "x"])[4].learning_rate
                for name in METHODS}

    assert rates() == expected == {name: row.learning_rate for name, row in METHODS.items()}
    monkeypatch.setattr(config_files, "CONFIG_DIR", str(tmp_path))  # no configs/<method>.yaml at all
    assert command_line.method_config_file(["--method", "ia3"]) is None
    assert rates() == expected
    config = tmp_path / "mine.yaml"
    config.write_text(yaml.safe_dump({"method": "ia3", "output_dir": "x"}))
    assert command_line.parse_arguments([str(config)])[4].learning_rate == 3e-3  # the method named by the file
    config.write_text(yaml.safe_dump({"method": "ia3", "output_dir": "x", "learning_rate": 0.02}))
    assert command_line.parse_arguments([str(config)])[4].learning_rate == 0.02
    assert command_line.parse_arguments([str(config), "--learning_rate", "0.5"])[4].learning_rate == 0.5


def test_bare_method_flag_runs_the_assignment_setting_and_flags_override_it(tmp_path, tiny_model_dir, news_dir,
                                                                            monkeypatch, capsys):
    """`run_summarization.py --method prompt` is configs/prompt.yaml: ./cnn_dailymail in, runs/prompt out."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_summarization.main(["--method", "prompt"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--data_dir cnn_dailymail does not exist" in error and "Kaggle" in error and "make demo" in error

    shutil.copytree(news_dir, tmp_path / "cnn_dailymail")
    run_summarization.main(["--method", "prompt", "--model_name_or_path", tiny_model_dir, *quick("prompt")])
    results = read_results(tmp_path / "runs" / "prompt")
    assert results["train_samples"] == 8 and results["predict_samples"] == 4 and "predict_rougeLsum" in results
    assert results["trainable_params"] == 6 * base_spec().n_embd  # configs/prompt.yaml: 6 virtual tokens ("[SUMMARIZE]")


@pytest.mark.parametrize("flags", [["--eval_strategy", "no"], ["--do_eval", "false"], ["--save_strategy", "no"],
                                   ["--max_steps", "2"], ["--eval_generate_samples", "0"]])
def test_turning_off_what_defaults_depend_on_still_trains(flags, tmp_path, tiny_model_dir, news_dir):
    """Early stopping and best-model loading are on by default; without evaluations or checkpoints they turn off
    (with a notice) instead of stopping the run with transformers' assertion."""
    out = tmp_path / "out"
    run_summarization.main(["--method", "lora", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir,
                            "--output_dir", str(out), "--do_train", *quick("lora"), *flags])
    results = read_results(out)
    assert results["train_samples"] == 8
    evaluated = flags[0] not in ("--eval_strategy", "--do_eval")
    assert ("eval_loss" in results) == evaluated
    assert ("eval_rougeLsum" in results) == (evaluated and flags[0] != "--eval_generate_samples")
    if flags[0] == "--max_steps":
        with open(out / "trainer_state.json") as handle:
            assert json.load(handle)["global_step"] == 2


def test_accelerate_launch_runs_the_script(tmp_path, tiny_model_dir, news_dir):
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--cpu",
               os.path.join(REPO, "run_summarization.py"),
               *cli(tiny_model_dir, news_dir, str(tmp_path / "out"), "prompt"), "--num_train_epochs", "1",
               "--max_train_samples", "8", "--max_eval_samples", "4"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=REPO)
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(tmp_path / "out" / "all_results.json") as handle:
        assert json.load(handle)["train_samples"] == 8


def test_tensorboard_shows_loss_memory_and_throughput(tmp_path, tiny_model_dir, news_dir, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "out"
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    run_summarization.main(cli(tiny_model_dir, news_dir, str(out), "lora", "--report_to", "tensorboard",
                               "--logging_steps", "1"))
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/tokens_per_second", "eval/loss", "eval/peak_host_memory_mb",
            "train/train_peak_host_memory_mb", "train/train_tokens_per_second"} <= tags, tags
    assert all(event.value > 0 for event in events.Scalars("train/tokens_per_second"))


def test_baselines_write_the_same_keys_in_their_run_folders(tmp_path, tiny_model_dir, news_dir):
    from baselines import lead as lead_3
    from metrics import split_sentences

    zero_shot = tmp_path / "zero-shot"
    run_summarization.main(["--method", "zero-shot", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir,
                            "--output_dir", str(zero_shot), "--do_predict", "--predict_with_generate",
                            "--generation_num_beams", "1", "--generation_max_new_tokens", "16",
                            "--eval_generate_samples", "4", "--max_length", "256"])
    lead = lead_3.run(["--data_dir", news_dir, "--output_dir", str(tmp_path / "lead-3"),
                       "--tokenizer_name", tiny_model_dir])
    with open(zero_shot / "all_results.json") as handle:
        zero = json.load(handle)
    predict_keys = {key for key in GENERATION_KEYS if key.startswith("predict_")}
    assert predict_keys <= set(zero) and predict_keys <= set(lead)
    assert zero["method"] == "zero-shot" and zero["trainable_params"] == 0
    assert lead["method"] == "lead-3" and lead["predict_samples"] == zero["predict_samples"] == 8
    with open(tmp_path / "lead-3" / "generated_predictions.jsonl") as handle:
        rows = [json.loads(line) for line in handle]
    import csv

    with open(os.path.join(news_dir, "test.csv"), newline="") as handle:
        articles = {row["id"]: row["article"] for row in csv.DictReader(handle)}
    for row in rows:
        assert row["prediction"].split("\n") == split_sentences(" ".join(articles[row["id"]].split("\n")))[:3]
    assert 0 < lead["predict_rouge1"] <= 1


def test_push_to_hub_uploads_the_run_and_never_base_weights(tmp_path, tiny_model_dir, news_dir, monkeypatch):
    from huggingface_hub import HfApi

    from model_cards import files_to_upload

    calls = {}
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.setdefault("repo", (repo_id, kw)))
    monkeypatch.setattr(HfApi, "upload_folder",
                        lambda self, **kw: calls.setdefault("upload", kw) and "https://hf.co/me/run")
    out = tmp_path / "out"
    run_summarization.main(cli(tiny_model_dir, news_dir, str(out), "lora", "--num_train_epochs", "1",
                               "--push_to_hub", "--hub_model_id", "me/tiny-lora", "--hub_token", "hf_secret123"))
    assert calls["repo"][0] == "me/tiny-lora" and calls["upload"]["repo_id"] == "me/tiny-lora"
    uploaded = files_to_upload(str(out))
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md", "all_results.json",
            "generated_predictions.jsonl"} <= set(uploaded)
    assert not any(name.startswith("checkpoint-") or name.endswith((".bin", "model.safetensors")) and
                   name != "adapter_model.safetensors" for name in uploaded)
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".md", ".jsonl"):
            assert "hf_secret123" not in path.read_text(errors="replace"), path


def test_validation_summaries_are_generated_once_per_weights(tmp_path, tiny_model_dir, news_dir, monkeypatch):
    """The evaluation after training holds the weights the last evaluation during training summarised: it reuses
    those summaries (and their scores) instead of generating them again."""
    from summarization_training.trainer import SummarizationTrainer

    calls = []
    generate = SummarizationTrainer.generate_summaries

    def counted(self, dataset, limit=None):
        calls.append((self.state.global_step, limit, len(dataset)))
        return generate(self, dataset, limit)

    monkeypatch.setattr(SummarizationTrainer, "generate_summaries", counted)
    out = tmp_path / "run"
    run_summarization.run(["--method", "lora", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir,
                           "--output_dir", str(out), *quick("lora")])
    assert calls == [(1, 2, 4), (1, None, 4)]  # the epoch's validation summaries, then the test split's
    with open(out / "all_results.json") as handle:
        results = json.load(handle)
    with open(out / "trainer_state.json") as handle:
        logged = [entry for entry in json.load(handle)["log_history"] if "eval_rougeLsum" in entry][-1]
    assert results["eval_rougeLsum"] == logged["eval_rougeLsum"] and results["eval_generated_samples"] == 2
    assert results["eval_seconds_per_summary"] == logged["eval_seconds_per_summary"] > 0
    assert results["predict_seconds_per_summary"] > 0
