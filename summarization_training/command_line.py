"""The command line of a run: one argument dataclass per concern, a config file, and what a bare command does.

    run_summarization.py configs/lora.yaml --lora_r 8      # the file's values are defaults; flags win
    run_summarization.py --method lora ...                 # without a file: configs/lora.yaml is the config

Where a value comes from, the first that has it: the command line, the config file, the method's row (its
learning rate; its flags' defaults are its config dataclass's), the argument dataclasses' defaults. A flag of
another method (given on the command line or in the file) is an error, not silently ignored.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field

from transformers import HfArgumentParser
from transformers.trainer_utils import IntervalStrategy, SaveStrategy

from core import BadInputError, one_line_errors
from core.config_files import CONFIG_SUFFIXES, config_path, read_config
from model_loading import ModelArguments
from peft_methods import METHOD_CONFIG_CLASSES, RUNNABLE
from summarization_data.arguments import DataArguments

from .arguments import SummarizationTrainingArguments


@dataclass
class MethodArguments:
    method: str = field(
        metadata={
            "help": "What trains: " + "; ".join(f"{name}: {m.description}" for name, m in RUNNABLE.items()),
            "choices": list(RUNNABLE),
        }
    )


def use_config_as_defaults(parser: HfArgumentParser, config: dict, path: str) -> None:
    """The file's values become the parser's defaults, so flags given after it win (`script config.yaml --flag v`,
    as in LLaMA-Factory and torchtune). Typed YAML values are kept; strings go through the flag's type."""
    unknown = set(config)
    for action in parser._actions:
        if action.dest in config:
            action.default, action.required = config[action.dest], False
            unknown.discard(action.dest)
    if unknown:
        raise BadInputError(f"config file {path}: unknown argument(s) {', '.join(sorted(unknown))}; "
                            "see run_summarization.py --help")


PROG = "run_summarization.py"


def named_method(argv: list[str]) -> str | None:
    peek = one_line_errors(argparse.ArgumentParser(prog=PROG, add_help=False))
    peek.add_argument("--method")
    return peek.parse_known_args(argv)[0].method


def method_config_file(argv: list[str]) -> str | None:
    """configs/<method>.yaml: the assignment's setting of the method named by --method, the defaults of its runs."""
    method = named_method(argv)
    return config_path(method) if method and os.path.isfile(config_path(method)) else None


def use_row_defaults(parser: HfArgumentParser, method: str | None) -> None:
    """The row's learning rate under the config file and the flags: never transformers' generic 5e-5, which suits
    few methods (a soft prompt barely moves at it)."""
    row = RUNNABLE.get(method)
    for action in parser._actions:
        if row is not None and action.dest in row.defaults:
            action.default = row.defaults[action.dest]


def given_flags(parser: HfArgumentParser, argv: list[str], dests: set[str]) -> list[str]:
    """Which of `dests` the command line sets, in its order; argparse itself reads argv again, so abbreviations,
    --flag=value and --no_flag count as they do when parsing, and a flag given its default value counts too."""
    unset = object()
    namespace = parser.parse_known_args(argv, namespace=argparse.Namespace(**dict.fromkeys(dests, unset)))[0]
    given = {dest for dest in dests if getattr(namespace, dest) is not unset}
    order = {action.dest: min((argv.index(o) for o in action.option_strings if o in argv), default=len(argv))
             for action in parser._actions if action.dest in given}
    return sorted(given, key=lambda dest: order.get(dest, len(argv)))


DATASET_FLAGS = ("dataset_name", "dataset_config_name")
CSV_FLAGS = ("data_dir", "train_file", "validation_file", "test_file")


def use_command_line_data_only(parser: HfArgumentParser, argv: list[str]) -> None:
    """Data of one kind named on the command line replaces the config file's data of the other kind: `--method lora
    --dataset_name X` reads X, not X and configs/lora.yaml's CSV folder. Within the CSVs the flags combine as they
    always do (`--train_file` replaces the config folder's train.csv only)."""
    given = given_flags(parser, argv, {*DATASET_FLAGS, *CSV_FLAGS})
    replaced = CSV_FLAGS if set(given) & set(DATASET_FLAGS) else DATASET_FLAGS if given else ()
    for action in parser._actions:
        if action.dest in replaced:
            action.default = None  # every data-source field's own default


def refuse_other_methods_flags(parser, argv: list[str], config: dict, config_path: str | None, method) -> None:
    """Another method's flag would be parsed and then silently unused: `--method head --lora_r 8` trains no LoRA."""
    owners = {}
    for row in RUNNABLE.values():
        for flag in row.flags:
            owners.setdefault(flag, []).append(row.name)
    given = [(flag, "") for flag in given_flags(parser, argv, set(owners))]
    given += [(flag, f" (in {config_path})") for flag in config if flag in owners]
    for flag, where in given:
        if flag not in method.flags:
            names = " and ".join(f"--method {name}" for name in owners[flag])
            whose = f"{owners[flag][0]}'s" if len(owners[flag]) == 1 else "their"
            raise BadInputError(f"--{flag}{where} belongs to {names}; --method {method.name} takes none of {whose} "
                                "flags: drop it, or change --method")


PRECEDENCE = ("Where a value comes from, the first that has it: the command line, the config file, the method's "
              "registry row, the generic defaults.")


def help_description(config_path: str | None, method_name: str | None) -> str:
    """The top of --help: whose defaults it shows. `--help` is handled while parsing, after the config file and the
    method's row have become the defaults, so `--method lora --help` shows configs/lora.yaml's values."""
    row = RUNNABLE.get(method_name)
    if row is None and config_path is None:
        return ("The defaults shown are the generic ones; `run_summarization.py --method NAME --help` shows a "
                "method's own (from configs/NAME.yaml and its registry row). " + PRECEDENCE)
    sources = ([f"{config_path}'s values"] if config_path is not None else []) + (
        [f"the {row.name} row's {', '.join(row.defaults)}"] if row is not None and row.defaults else [])
    whose = f"--method {row.name}'s own" if row is not None else f"{config_path}'s"
    return f"The defaults shown are {whose}: {' and '.join(sources)} over the generic ones. " + PRECEDENCE


def parse_arguments(argv: list[str] | None):
    """`[config.yaml] [--flag value ...]`: without a config file, configs/<method>.yaml is the config; flags win."""
    argv = list(sys.argv[1:] if argv is None else argv)
    config_path = argv.pop(0) if argv and argv[0].endswith(CONFIG_SUFFIXES) else method_config_file(argv)
    config = read_config(config_path) if config_path is not None else {}
    method_name = named_method(argv) or config.get("method")
    parser = one_line_errors(HfArgumentParser(
        (ModelArguments, DataArguments, MethodArguments, *METHOD_CONFIG_CLASSES, SummarizationTrainingArguments),
        prog=PROG, description=help_description(config_path, method_name),
    ))
    for action in parser._actions:
        # HfArgumentParser makes a `bool | None` flag take a value; `--do_train` alone must still mean true.
        if action.dest in ("do_train", "do_eval", "do_predict"):
            action.nargs, action.const = "?", True
    use_row_defaults(parser, method_name)
    if config_path is not None:
        use_config_as_defaults(parser, config, config_path)
        use_command_line_data_only(parser, argv)
    try:
        *parsed, unknown = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    except ValueError as error:  # transformers' own checks of incompatible settings
        raise BadInputError(" ".join(str(error).split())) from error
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    model_args, data_args, method_args, *method_configs, training_args = parsed
    if method_args.method not in RUNNABLE:  # a config file's value skips argparse's choices check
        raise BadInputError(f"method '{method_args.method}' (from {config_path}) is not one of: {', '.join(RUNNABLE)}")
    method = RUNNABLE[method_args.method]
    refuse_other_methods_flags(parser, argv, config, config_path, method)
    method_config = next((c for c in method_configs if type(c) is method.config_class), None)
    if training_args.output_dir is None:
        raise BadInputError("--output_dir is required: the run folder for weights, results and the model card")
    choose_actions(training_args, trains=method.trains)
    check_actions(method, training_args)
    return model_args, data_args, method_args, method_config, training_args


def choose_actions(training_args, trains: bool) -> None:
    """No --do_* flag: the whole story (train, evaluate, predict; a baseline only predicts). Otherwise what is
    given; evaluation stays on when training evaluates (transformers' own rule)."""
    args = training_args
    if args.do_train is None and args.do_eval is None and args.do_predict is None:
        args.do_train, args.do_eval, args.do_predict = trains, trains, True
    args.do_train, args.do_predict = bool(args.do_train), bool(args.do_predict)
    if args.do_eval is None:
        args.do_eval = args.do_train and args.eval_strategy != "no"
    if not args.do_train:  # evaluations during training, and what depends on them, do not apply
        args.eval_strategy, args.save_strategy = IntervalStrategy.NO, SaveStrategy.NO
        args.load_best_model_at_end, args.early_stopping_patience = False, None


def check_actions(method, training_args) -> None:
    args = training_args
    if not method.trains and args.do_train:
        raise BadInputError(f"--method {method.name} is a baseline that does not train; drop --do_train")
    if method.trains and not args.do_train:
        raise BadInputError(
            f"--method {method.name} without --do_train would evaluate an untrained {method.name} model; add "
            "--do_train, use --method zero-shot for the base model, or summarize.py --run_dir for a finished run"
        )
    if not (args.do_train or args.do_eval or args.do_predict):
        raise BadInputError("nothing to do: pass --do_train, --do_eval and/or --do_predict")
