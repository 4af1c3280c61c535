#!/usr/bin/env python
"""Fine-tune a decoder-only LM for news summarization with one of several methods, and measure it.

    accelerate launch run_summarization.py --method lora --data_dir cnn_dailymail --output_dir runs/lora
    python run_summarization.py configs/lora.yaml

The story of a run: parse -> data -> model + method -> tokenize -> trainer -> train -> evaluate ->
predict -> save results, loss plot and model card.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field

import datasets
import transformers
import yaml
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    EarlyStoppingCallback,
    HfArgumentParser,
    set_seed,
)
from transformers.trainer_utils import IntervalStrategy, SaveStrategy, get_last_checkpoint

from model_cards import push_run_to_hub, write_model_card
from model_loading.gguf import STAMP_NAME as GGUF_STAMP_NAME
from peft_methods import BASELINES, METHOD_CONFIG_CLASSES, METHODS, count_parameters
from reporting import plot_loss_curves
from summarization_data import (
    BadInputError,
    PromptFormat,
    SummarizationCollator,
    load_summarization_splits,
    tokenize_splits,
)
from summarization_data.errors import run_cli
from summarization_data.loading import resolve_data_files
from summarization_data.tokenization import chat_prompt_format, save_prompt_format
from summarization_training import SummarizationTrainer, SummarizationTrainingArguments
from summarization_training.checkpointing import staging_folders
from summarization_training.kernels import use_fused_gelu
from trainer_callbacks import (
    PeakMemoryCallback,
    PreemptionCallback,
    ThroughputCallback,
    insert_before_reporters,
)
from trainer_callbacks.preemption import EXIT_CODE as PREEMPTED_EXIT_CODE

logger = logging.getLogger("run_summarization")

RESULTS_NAME = "all_results.json"
TRAIN_RESULTS_NAME = "train_results.json"  # written once the final weights are: training is finished
PREDICTIONS_NAME = "generated_predictions.jsonl"
RUNNABLE = {**METHODS, **BASELINES}


@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        default="gpt2", metadata={"help": "Hub model id or local folder of a causal LM (GPT-2, GPT-Neo, ...)."}
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Tokenizer id or folder, if not the model's own."}
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Where downloaded models and data are cached."})
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Allow model code from the Hub to run; only for repositories you trust."}
    )
    attn_implementation: str | None = field(
        default=None,
        metadata={"help": "Attention kernel: 'sdpa' (PyTorch's fused attention; transformers' default where the "
                          "model supports it, e.g. GPT-2), 'eager', or 'flash_attention_2' if installed."},
    )

    def __post_init__(self):
        # A Hub id has at most one "/"; anything path-shaped must exist here.
        name = self.model_name_or_path
        looks_local = name.startswith((".", "/", "~")) or name.count("/") > 1
        if looks_local and not os.path.isdir(os.path.expanduser(name)):
            raise BadInputError(
                f"--model_name_or_path {self.model_name_or_path} does not exist; give a local model folder or a Hub id"
            )


@dataclass
class DataArguments:
    data_dir: str | None = field(
        default=None, metadata={"help": "Folder with train.csv, validation.csv, test.csv (the Kaggle layout)."}
    )
    train_file: str | None = field(default=None, metadata={"help": "Training CSV (overrides --data_dir)."})
    validation_file: str | None = field(default=None, metadata={"help": "Validation CSV (overrides --data_dir)."})
    test_file: str | None = field(default=None, metadata={"help": "Test CSV (overrides --data_dir)."})
    dataset_name: str = field(
        default="abisee/cnn_dailymail", metadata={"help": "Dataset name recorded in the model card."}
    )
    text_column: str = field(default="article", metadata={"help": "Column holding the article."})
    summary_column: str = field(default="highlights", metadata={"help": "Column holding the reference summary."})
    id_column: str = field(default="id", metadata={"help": "Column holding the example id (made up if absent)."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Random subset of the training split (drawn with --data_seed)."}
    )
    max_eval_samples: int | None = field(default=None, metadata={"help": "Random subset of the validation split."})
    max_predict_samples: int | None = field(default=None, metadata={"help": "Random subset of the test split."})
    max_length: int = field(
        default=512, metadata={"help": "Tokens per example: soft prompt + article + separator + summary + EOS."}
    )
    min_article_tokens: int = field(
        default=32, metadata={"help": "Examples whose summary leaves fewer article tokens than this are dropped."}
    )
    separator: str = field(default="\nTL;DR:", metadata={"help": "Text between the article and its summary."})
    instruction: str | None = field(
        default=None, metadata={"help": "Instruction before the article (e.g. 'Summarize the article in one "
                                        "sentence.'); with --chat_template it is the user's turn."})
    chat_template: bool = field(
        default=False, metadata={"help": "Lay the prompt out in the tokenizer's chat template (instruction + article "
                                         "as the user's turn, the summary as the assistant's), for instruction-tuned "
                                         "models; replaces --separator."})
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for tokenization."})
    overwrite_cache: bool = field(default=False, metadata={"help": "Re-tokenize even if a cached result exists."})

    def __post_init__(self):
        if self.chat_template and not self.instruction:
            raise BadInputError("--chat_template needs --instruction, e.g. 'Summarize the article in one sentence.'")
        for name in ("max_train_samples", "max_eval_samples", "max_predict_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise BadInputError(f"--{name} must be at least 1 (got {value})")
        if self.max_length < 8:
            raise BadInputError(f"--max_length {self.max_length} is too small; CNN/DailyMail runs use 512")


@dataclass
class MethodArguments:
    method: str = field(
        metadata={
            "help": "What trains: " + "; ".join(f"{name}: {m.description}" for name, m in RUNNABLE.items()),
            "choices": list(RUNNABLE),
        }
    )


CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def read_config(path: str) -> dict:
    if not os.path.isfile(path):
        raise BadInputError(f"config file {path} does not exist")
    with open(path, encoding="utf-8") as handle:
        try:
            config = json.load(handle) if path.endswith(".json") else yaml.safe_load(handle)
        except (ValueError, yaml.YAMLError) as error:
            raise BadInputError(f"config file {path} is not valid {'JSON' if path.endswith('.json') else 'YAML'}: "
                                f"{str(error).splitlines()[0]}") from error
    if not isinstance(config, dict):
        raise BadInputError(f"config file {path} must hold a mapping of argument names to values")
    return config


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


def method_config_file(argv: list[str]) -> str | None:
    """configs/<method>.yaml: the assignment's setting of the method named by --method, the defaults of its runs."""
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--method")
    method = peek.parse_known_args(argv)[0].method
    path = os.path.join(CONFIG_DIR, f"{method}.yaml")
    return path if method and os.path.isfile(path) else None


def parse_arguments(argv: list[str] | None):
    """`[config.yaml] [--flag value ...]`: without a config file, configs/<method>.yaml is the config; flags win."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(
        (ModelArguments, DataArguments, MethodArguments, *METHOD_CONFIG_CLASSES, SummarizationTrainingArguments)
    )
    for action in parser._actions:
        # HfArgumentParser makes a `bool | None` flag take a value; `--do_train` alone must still mean true.
        if action.dest in ("do_train", "do_eval", "do_predict"):
            action.nargs, action.const = "?", True
    config_path = argv.pop(0) if argv and argv[0].endswith(CONFIG_SUFFIXES) else method_config_file(argv)
    if config_path is not None:
        use_config_as_defaults(parser, read_config(config_path), config_path)
    try:
        parsed = parser.parse_args_into_dataclasses(args=argv)
    except ValueError as error:  # transformers' own checks of incompatible settings
        raise BadInputError(" ".join(str(error).split())) from error
    model_args, data_args, method_args, *method_configs, training_args = parsed
    if method_args.method not in RUNNABLE:  # a config file's value skips argparse's choices check
        raise BadInputError(f"method '{method_args.method}' (from {config_path}) is not one of: {', '.join(RUNNABLE)}")
    method = RUNNABLE[method_args.method]
    method_config = next((c for c in method_configs if type(c) is method.config_class), None)
    if training_args.output_dir is None:
        raise BadInputError("--output_dir is required: the run folder for weights, results and the model card")
    choose_actions(training_args, trains=method.name not in BASELINES)
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


def check_processes(training_args) -> None:
    """Processes launched together (torchrun, accelerate launch) that would each run the whole job alone: on CPU
    transformers only joins them with --use_cpu, and all of them would write the same run folder."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and training_args.world_size == 1:
        raise BadInputError(f"{launched} processes were launched but each would run alone and write the same files; "
                            "add --use_cpu true to run them together on CPU")


def check_output_dir(training_args) -> None:
    """Never write over a finished run, or next to an unfinished one, unless asked."""
    out = training_args.output_dir
    if not os.path.isdir(out) or training_args.overwrite_output_dir:
        if os.path.isdir(out) and training_args.should_save:
            # Replace the old run: its results would mark an unfinished new run as finished (or its training as
            # done), and its checkpoints would be taken for this run's by rotation and --resume_from_checkpoint.
            for name in os.listdir(out):
                path = os.path.join(out, name)
                if name.endswith("_results.json") and os.path.isfile(path):
                    os.remove(path)
                elif name.startswith(("checkpoint-", "tmp-checkpoint-")) and os.path.isdir(path):
                    shutil.rmtree(path)
        return
    if os.path.isfile(os.path.join(out, RESULTS_NAME)):
        raise BadInputError(
            f"{out} already holds a finished run ({RESULTS_NAME}); choose another --output_dir "
            "or pass --overwrite_output_dir to replace it"
        )
    if get_last_checkpoint(out) is not None and training_args.resume_from_checkpoint is None:
        raise BadInputError(
            f"{out} holds checkpoints of an unfinished run; pass --resume_from_checkpoint true to continue it "
            "or --overwrite_output_dir to start over"
        )


def latest_complete_checkpoint(output_dir: str) -> str | None:
    """The newest checkpoint whose save finished. Saves are written under tmp-checkpoint-N/ and renamed, so a
    cut-off save is never named checkpoint-N; a checkpoint-N without trainer_state.json (the last file Trainer
    writes; left by versions that wrote in place) is skipped too, never resumed from."""
    if not os.path.isdir(output_dir):
        return None
    for folder in staging_folders(output_dir):
        logger.warning("ignoring %s: a checkpoint save cut off by a kill (the next save removes it)", folder)
    steps = sorted((int(name.split("-")[1]) for name in os.listdir(output_dir)
                    if name.startswith("checkpoint-") and name.split("-")[1].isdigit()), reverse=True)
    for step in steps:
        folder = os.path.join(output_dir, f"checkpoint-{step}")
        if os.path.isfile(os.path.join(folder, "trainer_state.json")):
            return folder
        logger.warning("%s is incomplete (no trainer_state.json; the save was cut off): skipping it", folder)
    return None


def resolve_checkpoint(training_args) -> str | None:
    """`--resume_from_checkpoint true` means the latest checkpoint in the output folder; a path must be one."""
    resume = training_args.resume_from_checkpoint
    if resume is None or resume.lower() == "false":
        return None
    if resume.lower() == "true":
        latest = latest_complete_checkpoint(training_args.output_dir)
        if latest is None:
            raise BadInputError(f"--resume_from_checkpoint true: no checkpoint-* folder in {training_args.output_dir}")
        return latest
    if not os.path.isfile(os.path.join(resume, "trainer_state.json")):
        raise BadInputError(
            f"--resume_from_checkpoint {resume} is not a checkpoint (no trainer_state.json); pass a checkpoint-N "
            "folder of this run or true for the latest"
        )
    return resume


def training_finished(training_args) -> bool:
    """`--resume_from_checkpoint true` after a run stopped once training had ended (final weights and
    train_results.json saved) but before evaluation/prediction finished: only those are left to do."""
    resume = training_args.resume_from_checkpoint
    return (training_args.do_train and resume is not None and resume.lower() == "true"
            and os.path.isfile(os.path.join(training_args.output_dir, TRAIN_RESULTS_NAME)))


def load_model_and_tokenizer(model_args):
    source = model_args.tokenizer_name or model_args.model_name_or_path
    common = {"cache_dir": model_args.cache_dir, "trust_remote_code": model_args.trust_remote_code}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **common)
        model = AutoModelForCausalLM.from_pretrained(model_args.model_name_or_path,
                                                     attn_implementation=model_args.attn_implementation, **common)
    except ValueError as error:  # e.g. an attention kernel this model does not implement
        raise BadInputError(f"cannot load model '{model_args.model_name_or_path}': {str(error).splitlines()[0]}"
                            ) from error
    except OSError as error:
        offline = " (HF_HUB_OFFLINE is set: only local folders and cached models work)" if os.environ.get(
            "HF_HUB_OFFLINE") == "1" else ""
        raise BadInputError(
            f"cannot load model/tokenizer '{source}'{offline}: {str(error).splitlines()[0]}"
        ) from error
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is masked by position, so sharing EOS is safe
    use_fused_gelu(model)
    return model, tokenizer


def build_prompt_format(data_args, tokenizer, **fields) -> PromptFormat:
    fields.update(max_length=data_args.max_length, min_article_tokens=data_args.min_article_tokens)
    if data_args.chat_template:
        return chat_prompt_format(tokenizer, data_args.instruction, **fields)
    prefix = f"{data_args.instruction}\n\n" if data_args.instruction else ""
    return PromptFormat(separator=data_args.separator, prefix=prefix, **fields)


def base_model_provenance(model_name_or_path: str) -> dict:
    """What a converted base-model folder records about its origin (its Hub id, how it was converted): the
    model card names the real model, never a folder on this machine."""
    stamp = os.path.join(model_name_or_path, GGUF_STAMP_NAME)
    if not os.path.isfile(stamp):
        return {}
    with open(stamp) as handle:
        recorded = json.load(handle)
    note = recorded.get("conversion")
    if note and recorded.get("source"):
        note += f" ({recorded['source']})"
    return {"base_model": recorded.get("base_model"), "conversion": note}


def report_metrics(trainer, split: str, metrics: dict, results: dict) -> None:
    """Print, write `<split>_results.json` and collect into `results`; a measurement impossible here (GPU
    memory on a CPU) is null. all_results.json is written once, at the end: its presence means finished."""
    metrics.setdefault(f"{split}_peak_accelerator_memory_mb", None)
    trainer.log_metrics(split, {key: value for key, value in metrics.items() if value is not None})
    trainer.save_metrics(split, metrics, combined=False)
    results.update(metrics)


def check_context_window(model, data_args) -> None:
    window = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    if window is not None and data_args.max_length > window:
        raise BadInputError(f"--max_length {data_args.max_length} exceeds the model's {window}-token context")


def read_baselines(run_dirs: list[str] | None) -> dict:
    baselines = {}
    for run_dir in run_dirs or []:
        path = os.path.join(run_dir, RESULTS_NAME)
        if not os.path.isfile(path):
            raise BadInputError(f"--baseline_runs {run_dir}: no {RESULTS_NAME} there; run the baseline first")
        with open(path) as handle:
            results = json.load(handle)
        baselines[results.get("method", os.path.basename(run_dir.rstrip("/")))] = results
    return baselines


def write_predictions(generated, path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for example_id, reference, prediction in zip(generated.ids, generated.references, generated.predictions,
                                                     strict=True):
            handle.write(json.dumps({"id": example_id, "reference": reference, "prediction": prediction},
                                    ensure_ascii=False) + "\n")


def wanted_splits(training_args) -> list[str]:
    splits = []
    if training_args.do_train:
        splits += ["train", "validation"]
    elif training_args.do_eval:
        splits.append("validation")
    if training_args.do_predict:
        splits.append("test")
    return splits


def run(argv: list[str] | None = None) -> dict:
    model_args, data_args, method_args, method_config, training_args = parse_arguments(argv)
    # The token is for the final push only: TrainingArguments is pickled into training_args.bin (in the run
    # folder and every checkpoint), where anyone given the folder could read it.
    hub_token, training_args.hub_token = training_args.hub_token, None
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        level=logging.INFO if training_args.should_log else logging.WARNING)
    for library in (datasets, transformers):
        library.utils.logging.set_verbosity_warning()
    check_processes(training_args)
    check_output_dir(training_args)
    baselines = read_baselines(training_args.baseline_runs)
    finished_training = training_finished(training_args)
    resume = resolve_checkpoint(training_args) if training_args.do_train and not finished_training else None
    set_seed(training_args.seed)
    method = RUNNABLE[method_args.method]
    if method.name in BASELINES and training_args.do_train:
        raise BadInputError(f"--method {method.name} is a baseline that does not train; drop --do_train")
    if method.name not in BASELINES and not training_args.do_train:
        raise BadInputError(
            f"--method {method.name} without --do_train would evaluate an untrained {method.name} model; add "
            "--do_train, use --method zero-shot for the base model, or summarize.py --run_dir for a finished run"
        )

    # Data: CSVs -> cleaned, sampled DatasetDict.
    splits = wanted_splits(training_args)
    if not splits:
        raise BadInputError("nothing to do: pass --do_train, --do_eval and/or --do_predict")
    data_files = resolve_data_files(
        data_args.data_dir,
        {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file},
        splits,
    )
    with training_args.main_process_first(desc="loading data"):
        raw = load_summarization_splits(
            data_files, data_args.text_column, data_args.summary_column, data_args.id_column,
            max_samples={"train": data_args.max_train_samples, "validation": data_args.max_eval_samples,
                         "test": data_args.max_predict_samples},
            seed=training_args.data_seed if training_args.data_seed is not None else training_args.seed,
            cache_dir=model_args.cache_dir,
        )

    # Model: base model -> the method's trainable model.
    base_model, tokenizer = load_model_and_tokenizer(model_args)
    model = method.build(base_model, method_config, tokenizer)
    trainable, total = count_parameters(model)
    logger.info("method %s: %s trainable of %s parameters (%.4f%%)", method.name, f"{trainable:,}",
                f"{total:,}", 100 * trainable / total)

    check_context_window(base_model, data_args)

    # Tokenize with the soft prompt's positions budgeted.
    prompt_format = build_prompt_format(data_args, tokenizer, num_virtual_tokens=getattr(model, "num_virtual_tokens", 0),
                                        max_new_tokens=training_args.generation_max_new_tokens)
    with training_args.main_process_first(desc="tokenizing"):
        tokenized = tokenize_splits(
            raw, tokenizer, prompt_format, data_args.text_column, data_args.summary_column,
            num_proc=data_args.preprocessing_num_workers, load_from_cache_file=not data_args.overwrite_cache,
        )

    preemption = PreemptionCallback()
    callbacks = [preemption]
    if training_args.do_train and training_args.early_stopping_patience is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=training_args.early_stopping_patience))
    trainer = SummarizationTrainer(
        model=model,
        args=training_args,
        train_dataset=tokenized.get("train"),
        eval_dataset=tokenized.get("validation"),
        data_collator=SummarizationCollator(pad_token_id=tokenizer.pad_token_id),
        processing_class=tokenizer,
        callbacks=callbacks,
        method=method,
    )
    insert_before_reporters(trainer, [ThroughputCallback(), PeakMemoryCallback()])

    provenance = base_model_provenance(model_args.model_name_or_path)
    results = {
        "method": method.name,
        "base_model": provenance.get("base_model") or model_args.model_name_or_path,
        "trainable_params": trainable,
        "total_params": total,
        "trainable_percent": 100 * trainable / total,
    }
    trainer.save_metrics("run", results, combined=False)
    try:  # the preemption callback handles SIGTERM/SIGINT from the start of training until the run ends
        if finished_training:
            logger.warning("%s: training finished before the run was stopped; evaluating its saved weights",
                           training_args.output_dir)
            method.load(model, training_args.output_dir)
            with open(os.path.join(training_args.output_dir, TRAIN_RESULTS_NAME)) as handle:
                results.update(json.load(handle))
        elif training_args.do_train:
            train_result = trainer.train(resume_from_checkpoint=resume)
            if preemption.requested:  # a checkpoint is saved; the run is not finished, so nothing else is written
                sys.exit(PREEMPTED_EXIT_CODE)
            with preemption.writing_final_weights():
                trainer.save_model()  # the best weights (load_best_model_at_end), only what trained
                trainer.save_state()
                plot_loss_curves({method.name: trainer.state.log_history}, os.path.join(training_args.output_dir,
                                                                                          "loss_curves.png"))
                # Last: train_results.json marks training as finished (see training_finished).
                metrics = dict(train_result.metrics, train_samples=len(tokenized["train"]))
                report_metrics(trainer, "train", metrics, results)
        elif method.name in BASELINES:
            trainer.save_model()  # a baseline's run folder records what it is, for summarize.py and reports
        # A signal during evaluation or prediction stops the run at once, unfinished, with a line saying how to
        # finish it (there is nothing to checkpoint; without a handler it would die silently).
        preemption.install(training_args)
        if training_args.do_eval:
            metrics = trainer.evaluate()
            report_metrics(trainer, "eval", metrics, results)
        if training_args.do_predict:
            output = trainer.predict(tokenized["test"], metric_key_prefix="predict")
            report_metrics(trainer, "predict", output.metrics, results)
            if training_args.predict_with_generate and trainer.is_world_process_zero():
                write_predictions(trainer.last_generation, os.path.join(training_args.output_dir, PREDICTIONS_NAME))

        if trainer.is_world_process_zero():
            # What summarize.py needs to reproduce this run's summaries.
            save_prompt_format(prompt_format, training_args.output_dir)
            generation_config = training_args.generation_config(tokenizer)
            generation_config.save_pretrained(training_args.output_dir)
            trainer.save_metrics("all", results, combined=False)  # writes all_results.json: the run is finished
            hyperparameters = {
                "learning_rate": training_args.learning_rate,
                "num_train_epochs": training_args.num_train_epochs,
                "per_device_train_batch_size": training_args.per_device_train_batch_size,
                "gradient_accumulation_steps": training_args.gradient_accumulation_steps,
                "max_grad_norm": training_args.max_grad_norm,
                "max_length": data_args.max_length,
                "seed": training_args.seed,
                **(asdict(method_config) if method_config is not None else {}),
            }
            write_model_card(training_args.output_dir, results=results, hyperparameters=hyperparameters,
                             base_model=results["base_model"], base_model_note=provenance.get("conversion"),
                             dataset_name=data_args.dataset_name, method_description=method.description,
                             separator=prompt_format.separator, prefix=prompt_format.prefix,
                             generation=generation_config.to_diff_dict(),
                             baselines=baselines,
                             repo_id=training_args.hub_model_id if training_args.push_run_to_hub else None)
            logger.info("run folder: %s", os.path.abspath(training_args.output_dir))
            if training_args.push_run_to_hub:
                url = push_run_to_hub(training_args.output_dir, training_args.hub_model_id,
                                      token=hub_token, private=bool(training_args.hub_private_repo))
                logger.info("pushed to %s", url)
    finally:
        preemption.close()
    return results


def main(argv: list[str] | None = None) -> None:
    run_cli("run_summarization.py", run, argv)


if __name__ == "__main__":
    main()
