"""Bad input when loading weights, tokenizers and configurations: one line naming the problem (BadInputError, or
`<command>: error: ...` and exit code 2 from a command), never a traceback or a silently wrong model."""

import json
import os

import pytest
import torch
from transformers import GPT2TokenizerFast

import run_summarization
import summarize
from core import BadInputError
from model_loading import load_base_model
from peft_methods import METHODS
from peft_methods.head import HeadConfig
from peft_methods.loading import load_trained_model
from peft_methods.soft_prompt import SoftPromptConfig
from summarization_training.command_line import parse_arguments
from summary_generation import PromptFormat, SummarySettings, save_prompt_format

from .conftest import make_tiny_gpt2


def one_line_error(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert "Traceback" not in err and len(errors) == 1, err[-2000:]
    return errors[0]


def test_head_weights_saved_with_other_settings_are_refused(tokenizer, tmp_path):
    head = METHODS["head"]
    saved = head.build(make_tiny_gpt2(), HeadConfig(unfreeze_last_n_blocks=1), tokenizer)
    head.save(saved, str(tmp_path))
    tied = head.build(make_tiny_gpt2(), HeadConfig(unfreeze_last_n_blocks=1, untie_lm_head=False), tokenizer)
    with pytest.raises(BadInputError, match="head weights do not match this model/method settings"):
        head.load(tied, str(tmp_path))
    # A block the model does not have (a checkpoint of a deeper model): refused, not half loaded.
    shallow = head.build(make_tiny_gpt2(n_layer=1), HeadConfig(unfreeze_last_n_blocks=1), tokenizer)
    with pytest.raises(BadInputError, match="head weights do not match"):
        head.load(shallow, str(tmp_path))
    same = head.build(make_tiny_gpt2(seed=1), HeadConfig(unfreeze_last_n_blocks=1), tokenizer)
    head.load(same, str(tmp_path))  # the matching model loads them
    torch.testing.assert_close(same.lm_head.weight, saved.lm_head.weight)


def test_soft_prompt_of_another_shape_is_refused(tokenizer, tmp_path):
    prompt = METHODS["prompt"]
    prompt.save(prompt.build(make_tiny_gpt2(), SoftPromptConfig(num_virtual_tokens=4), tokenizer), str(tmp_path))
    longer = prompt.build(make_tiny_gpt2(), SoftPromptConfig(num_virtual_tokens=6), tokenizer)
    before = longer.prompt_embeddings.detach().clone()
    with pytest.raises(BadInputError, match=r"soft prompt of shape \(4, 32\) does not fit this model's \(6, 32\); "
                                            "use the same --num_virtual_tokens and base model"):
        prompt.load(longer, str(tmp_path))
    assert torch.equal(longer.prompt_embeddings, before)


def test_unsupported_peft_type_is_a_one_line_error(tokenizer, tiny_model_dir, tmp_path, capsys):
    """A PEFT adapter of a type no method here trains (prefix tuning) is named, with the types that load."""
    (tmp_path / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "PREFIX_TUNING", "base_model_name_or_path": tiny_model_dir, "task_type": "CAUSAL_LM"}))
    with pytest.raises(BadInputError, match="adapter_config.json: unsupported PEFT type PREFIX_TUNING; this project "
                                            "loads PROMPT_TUNING, LORA, IA3"):
        load_trained_model(str(tmp_path))
    save_prompt_format(PromptFormat(max_length=96, max_new_tokens=8), str(tmp_path))
    SummarySettings(8, 1, 0, 1.0, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id).generation_config().save_pretrained(
        str(tmp_path))
    (tmp_path / "article.txt").write_text("An article.")
    line = one_line_error(summarize.main, ["--run_dir", str(tmp_path), str(tmp_path / "article.txt")], capsys)
    assert line.startswith("summarize.py: error: ") and "unsupported PEFT type PREFIX_TUNING" in line


def test_tokenizer_without_eos_is_refused(tokenizer_dir, tmp_path, news_dir, capsys):
    """A summary could never end: load_base_model refuses the tokenizer, for training as for summarize.py."""
    folder = tmp_path / "no-eos-model"
    make_tiny_gpt2().save_pretrained(str(folder))
    GPT2TokenizerFast.from_pretrained(tokenizer_dir, eos_token=None, bos_token=None, unk_token=None).save_pretrained(
        str(folder))
    with pytest.raises(BadInputError, match=f"the tokenizer of '{folder}' has no end-of-sequence token"):
        load_base_model(str(folder))
    line = one_line_error(run_summarization.main, [
        "--method", "zero-shot", "--model_name_or_path", str(folder), "--data_dir", news_dir,
        "--output_dir", str(tmp_path / "out"), "--max_predict_samples", "2"], capsys)
    assert line.startswith("run_summarization.py: error: the tokenizer of") and "use a tokenizer that defines" in line


def run_args(tiny_model_dir, out, *extra):
    return ["--method", "lora", "--model_name_or_path", tiny_model_dir, "--output_dir", str(out), "--lora_r", "2",
            *extra]


def test_max_train_samples_zero_is_refused(tiny_model_dir, news_dir, tmp_path, capsys):
    line = one_line_error(run_summarization.main, run_args(tiny_model_dir, tmp_path / "out", "--data_dir", news_dir,
                                                           "--do_train", "--max_train_samples", "0"), capsys)
    assert line == "run_summarization.py: error: --max_train_samples must be at least 1 (got 0)"
    assert not (tmp_path / "out").exists()


def test_train_file_alone_names_the_missing_validation_data(tiny_model_dir, news_dir, tmp_path, capsys, monkeypatch):
    """Training also evaluates: --train_file without validation data is refused up front, in one line."""
    train_file = os.path.join(news_dir, "train.csv")
    monkeypatch.chdir(tmp_path)  # no ./cnn_dailymail here, whatever the checkout holds
    # configs/lora.yaml's --data_dir (./cnn_dailymail, not here) would hold the validation split: named as missing.
    line = one_line_error(run_summarization.main, run_args(tiny_model_dir, tmp_path / "out", "--do_train",
                                                           "--train_file", train_file), capsys)
    assert line == ("run_summarization.py: error: no validation data: --data_dir cnn_dailymail does not exist; "
                    "pass --validation_file (or a --data_dir that holds validation.csv)")
    # A config file without a --data_dir: the validation split has no source at all.
    config = tmp_path / "no-data-dir.json"
    config.write_text(json.dumps({"method": "lora", "model_name_or_path": tiny_model_dir, "lora_r": 2,
                                  "output_dir": str(tmp_path / "out")}))
    line = one_line_error(run_summarization.main, [str(config), "--do_train", "--train_file", train_file], capsys)
    assert line == ("run_summarization.py: error: no validation data: pass --data_dir (a folder with validation.csv) "
                    "or --validation_file")
    assert not (tmp_path / "out" / "all_results.json").exists()


def test_json_config_file_is_read_like_yaml(tmp_path, capsys):
    """A JSON file's values are defaults (flags after it win); an unknown key and broken JSON are one-line errors."""
    config = tmp_path / "lora.json"
    config.write_text(json.dumps({"method": "lora", "output_dir": str(tmp_path / "out"), "lora_r": 8,
                                  "learning_rate": 0.003, "do_train": True}))
    model_args, data_args, method_args, method_config, training_args = parse_arguments(
        [str(config), "--lora_r", "2", "--max_length", "128"])
    assert method_args.method == "lora" and method_config.lora_r == 2  # the flag wins over the file
    assert training_args.learning_rate == 0.003 and training_args.output_dir == str(tmp_path / "out")
    assert data_args.max_length == 128 and training_args.do_train is True
    config.write_text(json.dumps({"method": "lora", "lora_rank": 8}))
    assert one_line_error(run_summarization.main, [str(config)], capsys) == (
        f"run_summarization.py: error: config file {config}: unknown argument(s) lora_rank; "
        "see run_summarization.py --help")
    config.write_text('{"method": "lora",}')
    line = one_line_error(run_summarization.main, [str(config)], capsys)
    assert line.startswith(f"run_summarization.py: error: config file {config} is not valid JSON: ")


@pytest.mark.parametrize("method", ["lora", "ia3", "head"])
def test_run_on_a_base_of_another_width_is_a_one_line_error(method, tokenizer, tmp_path):
    """Weights trained on a 32-wide base, loaded on a 64-wide one: named as a mismatch, not torch's traceback."""
    row, run_dir, wide_dir = METHODS[method], tmp_path / "run", tmp_path / "wide-base"
    row.save(row.build(make_tiny_gpt2(), row.config_class(), tokenizer), str(run_dir))
    tokenizer.save_pretrained(str(run_dir))
    make_tiny_gpt2(n_embd=64, n_head=2).save_pretrained(str(wide_dir))
    tokenizer.save_pretrained(str(wide_dir))
    with pytest.raises(BadInputError) as error:
        load_trained_model(str(run_dir), str(wide_dir))
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{run_dir} does not fit the base model '{wide_dir}' (")
    assert "size mismatch" in message and "pass --base_model with the model it was trained on" in message


def test_a_model_that_fails_to_load_is_named_not_its_tokenizer(tokenizer_dir, tmp_path):
    """The tokenizer loads from one folder, the weights fail in another: the error names the weights' folder."""
    empty = tmp_path / "no-weights"
    empty.mkdir()
    with pytest.raises(BadInputError, match=f"^cannot load model '{empty}'") as error:
        load_base_model(str(empty), tokenizer_name=tokenizer_dir)
    assert tokenizer_dir not in str(error.value)
    with pytest.raises(BadInputError, match=f"^cannot load the tokenizer of model '{empty}'"):
        load_base_model(tokenizer_dir, tokenizer_name=str(empty))
