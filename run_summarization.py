#!/usr/bin/env python
"""Fine-tune a decoder-only LM for news summarization with one of several methods, and measure it.

    accelerate launch run_summarization.py --method lora --data_dir cnn_dailymail --output_dir runs/lora
    python run_summarization.py configs/lora.yaml --lora_r 8

The story of a run (`run`, top to bottom): parse -> data -> model + method -> tokenize -> trainer -> train ->
evaluate -> predict -> save the run's record -> model card and Hub push. Everything else lives in the packages;
nothing imports this script.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import asdict

import datasets
import transformers
from transformers import EarlyStoppingCallback, set_seed

from core import BadInputError, run_cli, run_folder
from core.provenance import data_fingerprint, environment, model_fingerprint
from model_cards import push_run_to_hub, write_model_card
from model_loading import base_model_provenance, context_window, load_base_model
from peft_methods import RUNNABLE, count_parameters
from reporting import plot_loss_curves
from summarization_data import SummarizationCollator, describe_source, load_splits, tokenize_splits
from summarization_training import SummarizationTrainer
from summarization_training.command_line import parse_arguments
from summarization_training.forgetting import ARTICLES as FORGETTING_ARTICLES
from summarization_training.forgetting import general_text_loss
from summary_generation import PromptFormat, chat_prompt_format, save_prompt_format
from trainer_callbacks import (
    PeakMemoryCallback,
    PreemptionCallback,
    ThroughputCallback,
    insert_before_reporters,
)
from trainer_callbacks.preemption import EXIT_CODE as PREEMPTED_EXIT_CODE

logger = logging.getLogger("run_summarization")


def run(argv: list[str] | None = None) -> dict:
    model_args, data_args, method_args, method_config, training_args = parse_arguments(argv)
    method = RUNNABLE[method_args.method]
    # Trainer's own Hub integration would push checkpoints and training_args.bin during training; the finished
    # run folder is pushed at the end instead. The token is kept for that push only: TrainingArguments is pickled
    # into training_args.bin (in the run folder and every checkpoint), where anyone given the folder could read it.
    push, training_args.push_to_hub = training_args.push_to_hub, False
    hub_token, training_args.hub_token = training_args.hub_token, None
    set_up_logging(training_args)
    check_processes(training_args)
    check_output_dir(training_args)
    baselines = read_baselines(training_args.baseline_runs)
    finished_training = training_args.do_train and resuming_finished_training(training_args)
    resume = resolve_checkpoint(training_args) if training_args.do_train and not finished_training else None
    set_seed(training_args.seed)

    # Data: CSVs, a `datasets` dataset or BBC News -> cleaned, sampled DatasetDict.
    with training_args.main_process_first(desc="loading data"):
        raw = load_splits(
            data_args, wanted_splits(training_args),
            seed=training_args.data_seed if training_args.data_seed is not None else training_args.seed,
            cache_dir=model_args.cache_dir,
        )

    # Model: base model -> the method's trainable model; what the base model scores on general text first.
    base_model, tokenizer = load_base_model(model_args.model_name_or_path, model_args, model_args.tokenizer_name)
    check_context_window(base_model, data_args)
    provenance = run_provenance(argv, raw, data_args, base_model)
    held_out = held_out_text(raw, data_args)
    # On the device Trainer will train on (it would move the model there anyway): a large base model on a CPU
    # would make this measurement slow.
    base_text_loss = general_text_loss(base_model.to(training_args.device), tokenizer, held_out) if held_out else None
    # The base model's own size is the denominator of every method's trainable share: the method's total differs
    # (LoRA adds its matrices, an untied head a second vocabulary matrix), and shares over different totals mislead.
    base_params = count_parameters(base_model)[1]
    model = method.build(base_model, method_config, tokenizer)
    trainable, total = count_parameters(model)
    logger.info("method %s: %s trainable parameters, %.4f%% of the base model's %s", method.name, f"{trainable:,}",
                100 * trainable / base_params, f"{base_params:,}")

    # Tokenize with the soft prompt's positions budgeted.
    prompt_format = build_prompt_format(data_args, tokenizer, num_virtual_tokens=method.virtual_tokens(model),
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

    origin = base_model_provenance(model_args.model_name_or_path)
    results = {
        "method": method.name,
        "base_model": origin.get("base_model") or model_args.model_name_or_path,
        "base_model_name_or_path": model_args.model_name_or_path,  # what summarize.py loads the run on
        "trainable_params": trainable,
        "total_params": total,
        "base_params": base_params,
        "trainable_percent": 100 * trainable / base_params,
        "learning_rate": training_args.learning_rate if method.trains else None,
        # Autocast's compute dtype (weights stay fp32; summary_generation decodes in fp32).
        "precision": "bf16 autocast" if training_args.bf16 else "fp16 autocast" if training_args.fp16 else "fp32",
        "seed": training_args.seed,
        **{f"{split}_data_fingerprint": digest for split, digest in provenance["data"].items()},
        "base_model_fingerprint": provenance["base_model"]["weights_sha256"],
    }
    if trainer.is_world_process_zero():
        run_folder.write_json(training_args.output_dir, run_folder.PROVENANCE, provenance)
    trainer.save_metrics("run", results, combined=False)  # run_results.json: which method made this folder
    try:  # the preemption callback handles SIGTERM/SIGINT from the start of training until the run ends
        if finished_training:
            logger.warning("%s: training finished before the run was stopped; evaluating its saved weights",
                           training_args.output_dir)
            method.load(model, training_args.output_dir)
            results.update(run_folder.read_json(os.path.join(training_args.output_dir, run_folder.TRAIN_RESULTS)))
        elif training_args.do_train:
            train_result = trainer.train(resume_from_checkpoint=resume)
            if preemption.requested:  # a checkpoint is saved; the run is not finished, so nothing else is written
                sys.exit(PREEMPTED_EXIT_CODE)
            with preemption.writing_final_weights():
                trainer.save_model()  # the best weights (load_best_model_at_end), only what trained
                trainer.save_state()
                plot_loss_curves({method.name: trainer.state.log_history},
                                 os.path.join(training_args.output_dir, run_folder.LOSS_PLOT))
                # Last: train_results.json marks training as finished (run_folder.training_finished).
                metrics = dict(train_result.metrics, train_samples=len(tokenized["train"]))
                report_metrics(trainer, "train", metrics, results)
        else:
            trainer.save_model()  # a baseline's run folder records what it is, for summarize.py and reports
        if base_text_loss is not None:
            results.update(forgetting_metrics(trainer.model if method.trains else None, tokenizer, held_out,
                                              base_text_loss))
        # A signal during evaluation or prediction stops the run at once, unfinished, with a line saying how to
        # finish it (there is nothing to checkpoint; without a handler it would die silently).
        preemption.install(training_args)
        if training_args.do_eval:
            report_metrics(trainer, "eval", trainer.evaluate(), results)
        if training_args.do_predict:
            prediction = trainer.predict(tokenized["test"], metric_key_prefix="predict")
            report_metrics(trainer, "predict", prediction.metrics, results)
            summaries = prediction.predictions  # GeneratedSummaries, or None without --predict_with_generate
            if summaries is not None and trainer.is_world_process_zero():
                run_folder.write_predictions(training_args.output_dir, summaries.ids, summaries.references,
                                             summaries.predictions)

        if trainer.is_world_process_zero():
            # What summarize.py needs to reproduce this run's summaries, then all_results.json: the run is finished.
            save_prompt_format(prompt_format, training_args.output_dir)
            summary_settings = training_args.summary_settings(tokenizer)
            summary_settings.save(training_args.output_dir)
            trainer.save_metrics("all", results, combined=False)
            publish_run(training_args, data_args, method_config, results, prompt_format, summary_settings,
                        baselines, origin.get("conversion"), provenance,
                        repo_id=training_args.hub_model_id if push else None, hub_token=hub_token)
    finally:
        preemption.close()
    return results


def publish_run(training_args, data_args, method_config, results: dict, prompt_format: PromptFormat,
                summary_settings, baselines: dict, base_model_note: str | None, provenance: dict,
                repo_id: str | None, hub_token: str | None) -> None:
    """The model card (README.md) and, with --push_to_hub, the upload of the finished run folder."""
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
    source = describe_source(data_args)
    write_model_card(training_args.output_dir, results=results, hyperparameters=hyperparameters,
                     base_model=results["base_model"], base_model_note=base_model_note, dataset_name=source.name,
                     dataset_id=source.hub_id, dataset_config=source.config, dataset_location=source.location,
                     separator=prompt_format.separator,
                     prefix=prompt_format.prefix, num_virtual_tokens=prompt_format.num_virtual_tokens,
                     generation=summary_settings.generation_config().to_diff_dict(), baselines=baselines, repo_id=repo_id,
                     provenance=provenance)
    logger.info("run folder: %s", os.path.abspath(training_args.output_dir))
    if repo_id is not None:
        url = push_run_to_hub(training_args.output_dir, repo_id, token=hub_token,
                              private=bool(training_args.hub_private_repo))
        logger.info("pushed to %s", url)


# ---------------------------------------------------------------- checks and helpers of the story


def run_provenance(argv, raw, data_args, base_model) -> dict:
    """The command, software, machine, and fingerprints of the sampled data and of the base model."""
    columns = ("id", data_args.text_column, data_args.summary_column)
    return {**environment("run_summarization.py", sys.argv[1:] if argv is None else argv),
            "data": {split: data_fingerprint(raw[split].to_dict(), columns) for split in raw},
            "base_model": model_fingerprint(base_model)}


def held_out_text(raw, data_args) -> list[str]:
    """General text no method trained on: the test articles' own text (else the validation articles')."""
    split = "test" if "test" in raw else "validation" if "validation" in raw else None
    return list(raw[split][data_args.text_column][:FORGETTING_ARTICLES]) if split else []


def forgetting_metrics(trained_model, tokenizer, texts, base_loss: float) -> dict:
    """The trained model's loss on general text next to the base model's (a run that does not train is the base
    model: nothing forgotten)."""
    loss = base_loss if trained_model is None else general_text_loss(trained_model, tokenizer, texts)
    return {"general_text_loss": loss, "base_general_text_loss": base_loss, "forgetting": loss - base_loss}


def set_up_logging(training_args) -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        level=logging.INFO if training_args.should_log else logging.WARNING)
    for library in (datasets, transformers):
        library.utils.logging.set_verbosity_warning()


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
            run_folder.clear_previous_run(out)
        return
    if run_folder.is_finished(out):
        raise BadInputError(
            f"{out} already holds a finished run ({run_folder.RESULTS}); choose another --output_dir "
            "or pass --overwrite_output_dir to replace it"
        )
    if run_folder.checkpoint_folders(out) and training_args.resume_from_checkpoint is None:
        raise BadInputError(
            f"{out} holds checkpoints of an unfinished run; pass --resume_from_checkpoint true to continue it "
            "or --overwrite_output_dir to start over"
        )


def resolve_checkpoint(training_args) -> str | None:
    """`--resume_from_checkpoint true` means the latest checkpoint in the output folder; a path must be one."""
    resume = training_args.resume_from_checkpoint
    if resume is None or resume.lower() == "false":
        return None
    if resume.lower() == "true":
        latest = run_folder.latest_complete_checkpoint(training_args.output_dir)
        if latest is None:
            raise BadInputError(f"--resume_from_checkpoint true: no checkpoint-* folder in {training_args.output_dir}")
        return latest
    if not os.path.isfile(os.path.join(resume, run_folder.TRAINER_STATE)):
        raise BadInputError(
            f"--resume_from_checkpoint {resume} is not a checkpoint (no trainer_state.json); pass a checkpoint-N "
            "folder of this run or true for the latest"
        )
    return resume


def resuming_finished_training(training_args) -> bool:
    """`--resume_from_checkpoint true` after a run stopped once training had ended (final weights and
    train_results.json saved) but before evaluation/prediction finished: only those are left to do."""
    resume = training_args.resume_from_checkpoint
    return (resume is not None and resume.lower() == "true"
            and run_folder.training_finished(training_args.output_dir))


def read_baselines(run_dirs: list[str] | None) -> dict:
    """Test scores of finished baseline runs, quoted by the model card."""
    baselines = {}
    for run_dir in run_dirs or []:
        try:
            results = run_folder.read_results(run_dir)
        except BadInputError as error:
            raise BadInputError(f"--baseline_runs {error}") from error
        baselines[results.get("method", os.path.basename(run_dir.rstrip("/")))] = results
    return baselines


def build_prompt_format(data_args, tokenizer, **fields) -> PromptFormat:
    fields.update(max_length=data_args.max_length, min_article_tokens=data_args.min_article_tokens)
    if data_args.chat_template:
        return chat_prompt_format(tokenizer, data_args.instruction, **fields)
    prefix = f"{data_args.instruction}\n\n" if data_args.instruction else ""
    return PromptFormat(separator=data_args.separator, prefix=prefix, **fields)


def report_metrics(trainer, split: str, metrics: dict, results: dict) -> None:
    """Print, write `<split>_results.json` and collect into `results`; a measurement impossible here (GPU
    memory on a CPU) is null. all_results.json is written once, at the end: its presence means finished."""
    metrics.setdefault(f"{split}_peak_accelerator_memory_mb", None)
    trainer.log_metrics(split, {key: value for key, value in metrics.items() if value is not None})
    trainer.save_metrics(split, metrics, combined=False)
    results.update(metrics)


def check_context_window(model, data_args) -> None:
    window = context_window(model)
    if window is not None and data_args.max_length > window:
        raise BadInputError(f"--max_length {data_args.max_length} exceeds the model's {window}-token context")


def wanted_splits(training_args) -> list[str]:
    splits = []
    if training_args.do_train:
        splits += ["train", "validation"]
    elif training_args.do_eval:
        splits.append("validation")
    if training_args.do_predict:
        splits.append("test")
    return splits


def main(argv: list[str] | None = None) -> None:
    run_cli("run_summarization.py", run, argv)


if __name__ == "__main__":
    main()
