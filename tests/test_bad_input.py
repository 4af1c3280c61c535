"""Bad data, models, weights and run folders: one line naming the problem (BadInputError, or `<command>: error: ...`
and exit code 2 from a command), never a traceback, a silently wrong model, or a run folder lost."""

import csv
import hashlib
import json
import os
import shutil

import pytest
import torch
from transformers import GPT2TokenizerFast

import run_summarization
import summarize
from core import BadInputError, run_folder
from model_loading import load_base_model
from peft_methods import METHODS, RUNNABLE
from peft_methods.head import HeadConfig
from peft_methods.loading import load_trained_model
from peft_methods.soft_prompt import SoftPromptConfig
from summary_generation import PromptFormat, SummarySettings, save_prompt_format

from .conftest import base_args, fail, make_tiny_gpt2, one_line_error


def copy_corpus(news_dir, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(news_dir, folder)
    return folder


def snapshot(folder):
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in os.listdir(folder)
            if (folder / name).is_file()}


def test_missing_column(tmp_path, tiny_model_dir, news_dir, capsys):
    data = copy_corpus(news_dir, tmp_path)
    with open(data / "train.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["id", "story", "highlights"], ["1", "Some story.", "Summary."]])
    line = fail(base_args(tiny_model_dir, str(data), str(tmp_path / "out")), capsys)
    assert "train.csv: column 'article' not found (columns found: id, story, highlights)" in line
    assert "--text_column" in line


def test_unreadable_csv(tmp_path, tiny_model_dir, news_dir, capsys):
    data = copy_corpus(news_dir, tmp_path)
    (data / "validation.csv").write_text('id,article,highlights\n1,"open quote never closed,x\n')
    assert "validation.csv is not a readable CSV" in fail(base_args(tiny_model_dir, str(data), str(tmp_path / "o")),
                                                          capsys)


def test_split_empty_after_cleaning(tmp_path, tiny_model_dir, news_dir, capsys):
    data = copy_corpus(news_dir, tmp_path)
    (data / "validation.csv").write_text("id,article,highlights\n1,   ,Summary.\n2,Article.,\n")
    line = fail(base_args(tiny_model_dir, str(data), str(tmp_path / "o")), capsys)
    assert "validation split" in line and "no usable rows (2 rows read, 2 empty)" in line


def test_missing_data_dir_file(tmp_path, tiny_model_dir, news_dir, capsys):
    data = copy_corpus(news_dir, tmp_path)
    os.remove(data / "validation.csv")
    assert "validation file" in fail(base_args(tiny_model_dir, str(data), str(tmp_path / "o")), capsys)


def test_model_path_that_does_not_exist(tmp_path, news_dir, capsys):
    line = fail(base_args(str(tmp_path / "no-such-model"), news_dir, str(tmp_path / "o")), capsys)
    assert "--model_name_or_path" in line and "does not exist" in line


def test_hub_model_offline(tmp_path, news_dir, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    line = fail(base_args("surely-not-cached/model-xyz", news_dir, str(tmp_path / "o")), capsys)
    assert "cannot load model 'surely-not-cached/model-xyz'" in line and "HF_HUB_OFFLINE" in line


def test_attention_kernel_the_model_lacks(tmp_path, tiny_model_dir, news_dir, capsys):
    line = fail(base_args(tiny_model_dir, news_dir, str(tmp_path / "o"), "--attn_implementation", "no_such_kernel"),
                capsys)
    assert f"cannot load model '{tiny_model_dir}'" in line and "no_such_kernel" in line


def test_finished_run_is_never_overwritten_without_the_flag(tmp_path, tiny_model_dir, news_dir, capsys):
    out = tmp_path / "out"
    run_summarization.main(base_args(tiny_model_dir, news_dir, str(out)))
    before = snapshot(out)
    assert "all_results.json" in before and "adapter_model.safetensors" in before
    line = fail(base_args(tiny_model_dir, news_dir, str(out), "--learning_rate", "1e-2"), capsys)
    assert "already holds a finished run" in line and "--overwrite_output_dir" in line
    assert snapshot(out) == before
    (out / "checkpoint-999").mkdir()  # an old run's checkpoint must not be taken for the new run's
    (out / "checkpoint-999" / "trainer_state.json").write_text("{}")
    run_summarization.main(base_args(tiny_model_dir, news_dir, str(out), "--learning_rate", "1e-2",
                                     "--overwrite_output_dir"))
    assert snapshot(out)["adapter_model.safetensors"] != before["adapter_model.safetensors"]
    assert not (out / "checkpoint-999").exists()


def test_full_disk_during_save_is_one_line_and_keeps_earlier_checkpoints(tmp_path, tiny_model_dir, news_dir,
                                                                         capsys, monkeypatch):
    import dataclasses
    import errno

    out = tmp_path / "out"
    real_save = RUNNABLE["lora"].save
    saves = []

    def save_then_fill_the_disk(model, output_dir):
        saves.append(output_dir)
        if len(saves) > 1:  # the first checkpoint is written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", os.path.join(output_dir, "adapter_model.safetensors"))
        real_save(model, output_dir)

    monkeypatch.setitem(RUNNABLE, "lora",
                        dataclasses.replace(RUNNABLE["lora"], save=save_then_fill_the_disk))
    line = fail(base_args(tiny_model_dir, news_dir, str(out), "--num_train_epochs", "2", "--save_total_limit", "5"),
                capsys)
    assert "no space left on the device while writing" in line and "--resume_from_checkpoint true" in line
    first = os.path.basename(saves[0])
    assert (out / first / "adapter_model.safetensors").is_file()
    assert run_folder.latest_complete_checkpoint(str(out)) == str(out / first)
    assert not (out / "all_results.json").exists()


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

