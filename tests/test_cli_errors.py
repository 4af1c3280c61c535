"""The command line and config files: a bad flag, a flag of another method, a config file that cannot be read,
settings that contradict each other. One line naming the flag and the fix, exit code 2, no traceback; nothing is
loaded or written first."""

import json
import os
import re

import pytest

import run_summarization
from baselines import lead
from comparison.__main__ import parse_args as comparison_args
from core import BadInputError
from core.config_files import config_path, read_config
from metrics import faithfulness
from peft_methods import RUNNABLE
from reporting import report
from summarization_training.command_line import parse_arguments

from .conftest import base_args, fail, one_line_error

__all__ = ["fail"]  # tests of other concerns take the helper from here too


def test_max_length_too_small_for_soft_prompt_and_summary(tmp_path, tiny_model_dir, news_dir, capsys):
    args = base_args(tiny_model_dir, news_dir, str(tmp_path / "o"), "--max_length", "40",
                     "--num_virtual_tokens", "8", method="prompt")
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
    args = base_args(tiny_model_dir, news_dir, str(tmp_path / "o"), method="zero-shot")
    assert "--method zero-shot is a baseline that does not train; drop --do_train" in fail(args, capsys)


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



OTHER_METHODS_FLAG = "belongs to --method {owner}; --method {method} takes none of {whose} flags: drop it, or change --method"
LORA_FLAG = OTHER_METHODS_FLAG.format(owner="lora and --method dora", method="{method}", whose="their")


def test_a_flag_of_another_method_is_refused_with_the_method_it_belongs_to(tmp_path):
    """`--method head --lora_r 8` would train a head and ignore the rank without a word: refused, however the flag
    is spelled, even at its default value."""
    def refused(*argv):
        with pytest.raises(BadInputError) as error:
            parse_arguments([*argv, "--output_dir", str(tmp_path / "o")])
        return str(error.value)

    assert refused("--method", "head", "--lora_r", "8") == "--lora_r " + LORA_FLAG.format(method="head")
    assert refused("--method", "lora", "--unfreeze_last_n_blocks", "0") == "--unfreeze_last_n_blocks " + \
        OTHER_METHODS_FLAG.format(owner="head", method="lora", whose="head's")
    assert refused("--method", "zero-shot", "--num_virtual_tokens=4").startswith("--num_virtual_tokens belongs to "
                                                                                  "--method prompt; --method zero-shot")
    assert refused("--method", "full", "--no_untie_lm_head").startswith("--untie_lm_head belongs to --method head;")
    assert refused("--method", "ia3", "--lora_tar", "c_attn").startswith("--lora_target_modules belongs to")  # abbreviated
    assert refused("--method", "prompt", "--ia3_target_modules", "c_attn", "--lora_r", "2").startswith("--ia3_target")
    # A method's own flags, and every other method's defaults (not given), are fine.
    assert parse_arguments(["--method", "dora", "--lora_r", "8", "--output_dir", "o"])[3].lora_r == 8
    assert parse_arguments(["--method", "head", "--output_dir", "o"])[3].unfreeze_last_n_blocks == 0


def test_a_flag_of_another_method_in_a_config_file_is_refused_naming_the_file(tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"method": "head", "output_dir": str(tmp_path / "o"), "lora_alpha": 16}))
    with pytest.raises(BadInputError) as error:
        parse_arguments([str(config)])
    assert str(error.value) == f"--lora_alpha (in {config}) " + LORA_FLAG.format(method="head")
    # The shipped LoRA config under another --method: its LoRA settings are not the head's.
    with pytest.raises(BadInputError, match=r"^--lora_r \(in .*configs/lora.yaml\) belongs to --method lora"):
        parse_arguments([config_path("lora"), "--method", "head"])


def test_a_flag_of_another_method_ends_the_command_with_one_line(tmp_path, capsys):
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as exit_info:  # no model or data needed: the flags are refused first
        run_summarization.main(base_args("no-such-model", "no-such-data", str(out), "--lora_r", "2", method="head"))
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines() == ["run_summarization.py: error: --lora_r " +
                                                    LORA_FLAG.format(method="head")]
    assert not out.exists()  # refused before anything was loaded or written


@pytest.mark.parametrize("main, argv, start, end", [
    (run_summarization.main, ["--method", "lora", "--output_dir", "x", "--learning_rate", "abc"],
     "run_summarization.py: error: argument --learning_rate", "invalid float value: 'abc'"),
    (run_summarization.main, ["--method", "lora", "--output_dir", "x", "--lora_rank", "8"],
     "run_summarization.py: error: unrecognized arguments: --lora_rank 8", ""),
    (run_summarization.main, ["--method"], "run_summarization.py: error: argument --method: expected one argument", ""),
    (comparison_args, ["--epochs", "abc"], "python -m comparison: error: argument --epochs", "invalid float value: 'abc'"),
    (comparison_args, ["--seeds", "0"], "python -m comparison: error: --seeds must be at least 1 (got 0)", ""),
    (lead.main, ["--output_dir", "x", "--num_sentences", "abc"], "python -m baselines.lead: error: argument "
     "--num_sentences", "invalid int value: 'abc'"),
    (lead.main, ["--output_dir", "x", "--bogus"], "python -m baselines.lead: error: unrecognized arguments: --bogus", ""),
    (report.main, ["runs"], "python -m reporting.report: error: the following arguments are required: --output_dir",
     ""),
    (faithfulness.main, ["p.jsonl"],
     "python -m metrics.faithfulness: error: the following arguments are required: --articles", ""),
])
def test_a_bad_flag_is_one_line_without_the_usage(main, argv, start, end, capsys):
    """argparse's own errors used to come after the whole usage (165 lines for run_summarization.py)."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines[:5]
    assert lines[0].startswith(start) and lines[0].endswith(end), lines[0]


def help_text(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def shown_default(help_text: str, flag: str) -> str:
    """The `(default: ...)` of `flag`'s entry in --help, however argparse wrapped it."""
    entry = re.search(rf"^  {flag} .*?(?=^  -)", help_text, re.MULTILINE | re.DOTALL)
    assert entry, f"{flag} not in the help"
    default = re.search(r"\(default: (\S+)\)$", " ".join(entry.group(0).split()))
    assert default, entry.group(0)
    return default.group(1)


def test_method_help_shows_the_methods_own_defaults(tmp_path, capsys):
    """`--method lora --help` shows what a lora run uses: configs/lora.yaml's values and the row's learning rate,
    not transformers' generic 5e-5; plain --help says its defaults are the generic ones and how to see a method's."""
    config, row = read_config(config_path("lora")), RUNNABLE["lora"]
    shown = help_text(run_summarization.main, ["--method", "lora"], capsys)
    assert shown.startswith("usage: run_summarization.py ")
    assert shown_default(shown, "--lora_r") == str(config["lora_r"])
    assert shown_default(shown, "--learning_rate") == str(row.defaults["learning_rate"])
    assert shown_default(shown, "--num_train_epochs") == str(config["num_train_epochs"])
    assert "The defaults shown are --method lora's own" in " ".join(shown.split())
    # A config file's values, and the row's learning rate where the file has none.
    custom = tmp_path / "small.json"
    custom.write_text(json.dumps({"method": "lora", "lora_r": 8, "num_train_epochs": 2}))
    shown = help_text(run_summarization.main, [str(custom)], capsys)
    assert shown_default(shown, "--lora_r") == "8" and shown_default(shown, "--num_train_epochs") == "2"
    assert shown_default(shown, "--learning_rate") == str(row.defaults["learning_rate"])
    # No method: the generic defaults, and a first sentence that says so.
    generic = help_text(run_summarization.main, [], capsys)
    assert shown_default(generic, "--learning_rate") != str(row.defaults["learning_rate"])
    description = " ".join(generic.split("options:")[0].split("\n\n", 1)[1].split())
    assert description.startswith("The defaults shown are the generic ones; `run_summarization.py --method NAME "
                                  "--help` shows a method's own (from configs/NAME.yaml and its registry row).")


def test_comparison_help_names_the_command_and_promises_no_duration(capsys):
    shown = help_text(comparison_args, [], capsys)
    assert shown.startswith("usage: python -m comparison ")
    # The CPU demo's time depends on the machine (one promised 30 minutes; a fresh clone took 41 min 32 s).
    promise = re.search(r"\b\d[\d.,]*\s*(?:min(?:ute)?s?|h(?:ours?)?)\b|\bfits?\b", shown, re.IGNORECASE)
    assert promise is None, promise
    for flag in ("--train_samples", "--test_samples", "--epochs"):
        assert f"  {flag} " in shown



@pytest.mark.parametrize("module, function", [
    ("model_loading.gguf", "run"), ("generated_news.corpus", "main"), ("summarization_data.bbc_news", "run"),
    ("benchmarks.benchmark", "parse_args"), ("benchmarks.kernels", "run"), ("tools.gpu_check", "main"),
    ("tools.mutation_testing", "main"), ("tools.readme_results", "main"),
])
def test_every_other_command_reports_a_bad_flag_in_one_line(module, function, capsys):
    import importlib

    with pytest.raises(SystemExit) as exit_info:
        getattr(importlib.import_module(module), function)(["--no_such_flag"])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"python -m {module}: error: "), lines[:5]
