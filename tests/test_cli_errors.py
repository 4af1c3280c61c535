"""Bad input: one clear line naming the problem and the fix, exit code 2, no traceback, nothing lost."""

import csv
import hashlib
import os
import shutil

import pytest

import run_summarization
from core import run_folder
from peft_methods import RUNNABLE


def fail(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run_summarization.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err[-2000:]
    return errors[0]


def base_args(model_dir, data_dir, out, *extra):
    return ["--method", "lora", "--model_name_or_path", model_dir, "--data_dir", data_dir, "--output_dir", out,
            "--do_train", "--do_eval", "--num_train_epochs", "1", "--max_train_samples", "4",
            "--max_eval_samples", "4", "--lora_r", "2", *extra]


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


def test_max_length_too_small_for_soft_prompt_and_summary(tmp_path, tiny_model_dir, news_dir, capsys):
    args = base_args(tiny_model_dir, news_dir, str(tmp_path / "o"), "--max_length", "40",
                     "--num_virtual_tokens", "8")
    args[1] = "prompt"
    assert "--max_length 40 is too small" in fail(args, capsys)


def test_bad_method_flags(tmp_path, tiny_model_dir, news_dir, capsys):
    args = base_args(tiny_model_dir, news_dir, str(tmp_path / "o"), "--num_virtual_tokens", "0")
    assert "--num_virtual_tokens must be at least 1" in fail(args, capsys)
    args = base_args(tiny_model_dir, news_dir, str(tmp_path / "o"), "--lora_target_modules", "q_proj")
    assert "no such module in gpt2; choose from" in fail(args, capsys)


def test_unknown_method_is_an_argparse_error(tmp_path, tiny_model_dir, news_dir, capsys):
    args = base_args(tiny_model_dir, news_dir, str(tmp_path / "o"))
    args[1] = "adapters"
    with pytest.raises(SystemExit) as exit_info:
        run_summarization.main(args)
    assert exit_info.value.code == 2
    assert "invalid choice: 'adapters'" in capsys.readouterr().err


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


def test_nothing_to_do(tmp_path, tiny_model_dir, news_dir, capsys):
    args = ["--method", "zero-shot", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir,
            "--output_dir", str(tmp_path / "o"), "--eval_strategy", "no", "--save_strategy", "no",
            "--load_best_model_at_end", "false", "--do_predict", "false"]
    assert "nothing to do: pass --do_train" in fail(args, capsys)


def test_generation_settings_are_checked(tmp_path, tiny_model_dir, news_dir, capsys):
    args = base_args(tiny_model_dir, news_dir, str(tmp_path / "o"), "--eval_generate_samples", "-1")
    assert "--eval_generate_samples must be 0 or more" in fail(args, capsys)
    args = base_args(tiny_model_dir, news_dir, str(tmp_path / "o"), "--max_length", "600")
    assert "--max_length 600 exceeds the model's 512-token context" in fail(args, capsys)
    args = base_args(tiny_model_dir, news_dir, str(tmp_path / "o"), "--max_length", "160",
                     "--generation_max_new_tokens", "128")
    assert "--max_length 160 leaves 27 article tokens for generation after the soft prompt, prompt format and " \
           "--generation_max_new_tokens 128" in fail(args, capsys)


def test_baseline_refuses_training(tmp_path, tiny_model_dir, news_dir, capsys):
    args = base_args(tiny_model_dir, news_dir, str(tmp_path / "o"))
    args[1] = "zero-shot"
    assert "--method zero-shot is a baseline that does not train; drop --do_train" in fail(args, capsys)


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


def test_trainable_method_without_training_is_refused(tmp_path, tiny_model_dir, news_dir, capsys):
    args = ["--method", "lora", "--model_name_or_path", tiny_model_dir, "--data_dir", news_dir,
            "--output_dir", str(tmp_path / "o"), "--do_predict"]
    line = fail(args, capsys)
    assert "--method lora without --do_train would evaluate an untrained lora model" in line
    assert not (tmp_path / "o").exists() or not (tmp_path / "o" / "all_results.json").exists()


def test_processes_launched_together_that_would_each_run_alone(tmp_path, tiny_model_dir, news_dir, monkeypatch,
                                                                 capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")  # torchrun on CPU without --use_cpu: each process has world size 1
    line = fail(base_args(tiny_model_dir, news_dir, str(tmp_path / "o")), capsys)
    assert "2 processes were launched but each would run alone" in line and "--use_cpu true" in line
    assert not (tmp_path / "o").exists()


def test_attention_kernel_the_model_lacks(tmp_path, tiny_model_dir, news_dir, capsys):
    line = fail(base_args(tiny_model_dir, news_dir, str(tmp_path / "o"), "--attn_implementation", "no_such_kernel"),
                capsys)
    assert f"cannot load model '{tiny_model_dir}'" in line and "no_such_kernel" in line


def test_config_file_errors_are_one_line(tmp_path, capsys):
    assert "config file nope.yaml does not exist" in fail(["nope.yaml"], capsys)
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: lora\nlearning_rat: 1e-3\n")
    assert "unknown argument(s) learning_rat" in fail([str(bad)], capsys)
    bad.write_text("method: lorra\noutput_dir: x\n")
    assert "method 'lorra'" in fail([str(bad)], capsys)
    bad.write_text("[1, 2]\n")
    assert "must hold a mapping" in fail([str(bad)], capsys)


def test_incompatible_strategies_from_transformers_are_one_line(tmp_path, capsys):
    line = fail(["--method", "lora", "--output_dir", str(tmp_path / "o"), "--do_train", "--eval_strategy", "steps",
                 "--eval_steps", "3", "--save_strategy", "steps", "--save_steps", "4"], capsys)
    assert "load_best_model_at_end requires" in line
