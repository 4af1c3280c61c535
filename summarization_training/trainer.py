"""`Trainer` for summarization with a decoder-only model, whatever the method.

What the stock Trainer does not do:
- save and restore only what the method trains (delegated to the method's row in `peft_methods`): a prompt or
  LoRA checkpoint never holds a copy of the frozen base model;
- an exact evaluation loss: each example's summed NLL and token count are gathered, never a mean of batch means;
- generation-based evaluation for a decoder-only model. `Seq2SeqTrainer(predict_with_generate=True)` would
  generate from the whole labelled sequence. Here summaries are generated from the article + separator only,
  left-padded, and the prompt is stripped before decoding. `evaluate()` returns their ROUGE among its metrics;
  `predict()` returns the summaries themselves as its `predictions` (a `GeneratedSummaries`).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import time

import torch
from torch import nn
from transformers import PreTrainedModel, Trainer
from transformers.trainer import TRAINING_ARGS_NAME
from transformers.trainer_utils import EvalLoopOutput

from core import BadInputError
from metrics.scoring import summary_scores
from peft_methods import Method
from summarization_data import SummarizationCollator
from summarization_data.collator import HOST_COUNTS
from summarization_data.tokenization import IGNORE_INDEX
from summary_generation import GeneratedSummaries, generate_summaries

from .checkpointing import save_checkpoint_atomically
from .host_counts import HostTokenCounting

logger = logging.getLogger(__name__)


class SummarizationTrainer(HostTokenCounting, Trainer):
    def __init__(self, *args, method: Method, **kwargs):
        super().__init__(*args, **kwargs)
        self.method = method
        # Counts the training step would otherwise read back from the device (a CUDA sync per step) come with the
        # batch, computed on the host (HostTokenCounting, compute_loss); a copy, the caller's collator is unchanged.
        if isinstance(self.data_collator, SummarizationCollator):
            self.data_collator = dataclasses.replace(self.data_collator, host_counts=True)
        # Logits at summary positions only, and with them the exact per-example evaluation loss. Label
        # smoothing and a custom compute_loss_func take the full logits; they keep the stock path.
        self.summary_logits_only = (self.args.summary_logits_only and self.label_smoother is None
                                    and self.compute_loss_func is None)
        if self.summary_logits_only:
            check_logits_to_keep(self.model)
        self._loaded_step = None  # the step of the checkpoint load_best_model_at_end restored, once it has
        self._last_generated = None  # (weights' step, dataset fingerprint, limit, summaries, seconds)

    # ---- the loss, with logits only where it is ----

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The standard causal-LM loss, but the LM head runs only on positions that predict a summary token.

        The head is ~31% of GPT-2's forward FLOPs and its batch x length x 50,257 logits are the largest
        activation, yet only the summary positions carry loss. transformers' `logits_to_keep` takes a boolean
        mask; `shift_labels` hands the loss the matching targets, so everything else (token-count
        normalisation across gradient accumulation and devices) stays the stock Trainer path.

        With the collator's host-side counts, the positions are integer indices, batch x (the longest row's count,
        known on the host): no data-dependent shape, so no device sync (a boolean mask's `nonzero` waits for the
        device to finish everything queued before it).
        """
        counts = inputs.get(HOST_COUNTS)
        inputs = {key: value for key, value in inputs.items() if key != HOST_COUNTS}  # not a model input
        if self.summary_logits_only and "labels" in inputs:
            width = counts["summary_width"] if counts is not None else None
            keep, targets = summary_positions(inputs["labels"], width)
            inputs = {**inputs, "logits_to_keep": keep, "shift_labels": targets}
        return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                    num_items_in_batch=num_items_in_batch)

    # ---- saving only what trained: Trainer has no public hook for these, so the private ones are overridden ----

    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        # Trainer would save the whole model (or PEFT's adapter) by its own rules; the method knows what trained.
        output_dir = output_dir or self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(output_dir, exist_ok=True)
        self.method.save(self.accelerator.unwrap_model(self.model), output_dir)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, TRAINING_ARGS_NAME))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        # Resuming: Trainer would look for a full model or a PEFT adapter; a head checkpoint is neither.
        self.method.load(self.accelerator.unwrap_model(model or self.model), resume_from_checkpoint)

    def _load_best_model(self) -> None:
        # load_best_model_at_end: as _load_from_checkpoint.
        self.method.load(self.accelerator.unwrap_model(self.model), self.state.best_model_checkpoint)
        self._loaded_step = int(self.state.best_model_checkpoint.rstrip("/").rsplit("-", 1)[-1])

    def _load_callback_state(self) -> None:
        # transformers re-adds restored (stateful) callbacks at the end of the list; the ones that edit log entries
        # (trainer_callbacks.insert_before_reporters) must stay ahead of the reporters.
        order = [type(cb) for cb in self.callback_handler.callbacks]
        super()._load_callback_state()
        self.callback_handler.callbacks.sort(key=lambda cb: order.index(type(cb)) if type(cb) in order else len(order))

    def _save_checkpoint(self, model, trial) -> None:
        # Written under tmp-checkpoint-N/ and renamed once complete: a kill mid-save leaves no checkpoint-N.
        save_checkpoint_atomically(self, super()._save_checkpoint, model, trial)

    # ---- evaluation: loss on everything, ROUGE on generated summaries ----

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Per example, the summed NLL of its summary tokens and their count (instead of logits): the split's
        loss is then exact and token-weighted, and gathering drops the duplicates that pad a last batch across
        processes. Trainer's own loss is a mean of batch means, which a padded duplicate shifts."""
        if not self.summary_logits_only:  # the stock mean-of-batch-means loss
            return super().prediction_step(model, inputs, True, ignore_keys)
        inputs = self._prepare_inputs(inputs)
        keep, targets = summary_positions(inputs["labels"])
        features = {key: value for key, value in inputs.items() if key not in ("labels", HOST_COUNTS)}
        with torch.no_grad(), self.compute_loss_context_manager():
            logits = model(**features, logits_to_keep=keep).logits
        token_nll = nn.functional.cross_entropy(logits.float(), targets, reduction="none")
        rows = keep.nonzero()[:, 0]
        sums = torch.zeros(keep.shape[0], device=token_nll.device).index_add_(0, rows, token_nll)
        counts = keep.sum(dim=1).to(sums.dtype)
        return sums.sum() / counts.sum(), torch.stack((sums, counts), dim=1), None

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval"):
        """The loss over the whole split and, with --predict_with_generate, ROUGE of generated summaries. The
        returned `predictions` are those summaries (a `GeneratedSummaries`, or None), not logits."""
        per_example_nll = self.summary_logits_only  # prediction_step gathers (NLL sum, token count) per example
        output = super().evaluation_loop(dataloader, description, prediction_loss_only=not per_example_nll,
                                         ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        metrics = output.metrics
        if per_example_nll and output.predictions is not None:
            sums, counts = output.predictions[:, 0], output.predictions[:, 1]
            metrics[f"{metric_key_prefix}_loss"] = float(sums.sum() / counts.sum())
        metrics[f"{metric_key_prefix}_samples"] = len(dataloader.dataset)
        # During training only a subset is summarised (generation dominates evaluation time), possibly none;
        # prediction on the test split summarises every example.
        limit = self.args.eval_generate_samples if metric_key_prefix == "eval" else None
        summaries = None
        if self.args.predict_with_generate and limit != 0:
            summaries, seconds = self.generated_once(dataloader.dataset, limit, metric_key_prefix)
            metrics[f"{metric_key_prefix}_seconds_per_summary"] = seconds / max(1, len(summaries.predictions))
            metrics.update(articles_cut(dataloader.dataset, len(summaries.predictions), metric_key_prefix))
            metrics.update(summary_scores(summaries.predictions, summaries.references, summaries.lengths,
                                          prefix=metric_key_prefix, seed=self.args.seed))
        return EvalLoopOutput(predictions=summaries, label_ids=None, metrics=metrics, num_samples=output.num_samples)

    def generated_once(self, dataset, limit: int | None, prefix: str) -> tuple[GeneratedSummaries, float]:
        """The summaries and the seconds they took; validation summaries are generated once per weights: the
        evaluation after training reuses those of the last evaluation during training when the model still holds
        the weights it had then (training ended there, or the best checkpoint restored is that step's)."""
        step = self._loaded_step if self._loaded_step is not None else self.state.global_step
        key = (step, getattr(dataset, "_fingerprint", id(dataset)), limit)
        if prefix == "eval" and self._last_generated is not None and self._last_generated[0] == key:
            logger.info("validation summaries of step %d reused: the weights have not changed since", step)
            return self._last_generated[1:]
        started = time.perf_counter()
        summaries = self.generate_summaries(dataset, limit)
        generated = (summaries, time.perf_counter() - started)
        if prefix == "eval":
            self._last_generated = (key, *generated)
        return generated

    def generate_summaries(self, dataset, limit: int | None = None) -> GeneratedSummaries:
        if limit is not None and limit < len(dataset):
            dataset = dataset.select(range(limit))
        tokenizer = self.processing_class
        summaries = generate_summaries(
            self.accelerator.unwrap_model(self.model), tokenizer, dataset["prompt_input_ids"],
            self.args.summary_settings(tokenizer),
            batch_size=self.args.generation_batch_size or self.args.per_device_eval_batch_size,
            accelerator=self.accelerator)
        return GeneratedSummaries(ids=list(dataset["id"]), references=decode_labels(dataset["labels"], tokenizer),
                                  predictions=summaries.texts, lengths=summaries.lengths)


def articles_cut(dataset, summarised: int, prefix: str) -> dict:
    """`{prefix}_articles_cut`: how many of the summarised articles the generation prompt did not hold whole (cut to
    --max_length minus the summary's room)."""
    if "article_tokens_cut" not in dataset.column_names:
        return {}
    cut = dataset.select(range(min(summarised, len(dataset))))["article_tokens_cut"]
    count = sum(tokens > 0 for tokens in cut)
    if count:
        logger.warning("%s: %d of %d articles were cut to fit the generation prompt (%d tokens left out in all); "
                       "--max_length sets the room", prefix, count, len(cut), sum(cut))
    return {f"{prefix}_articles_cut": count}


def check_logits_to_keep(model) -> None:
    """A model whose forward lacks `logits_to_keep` would fail mid-step with a shape error; say so up front."""
    language_model = next((m for m in model.modules() if isinstance(m, PreTrainedModel)), None)
    if language_model is not None and "logits_to_keep" not in inspect.signature(language_model.forward).parameters:
        raise BadInputError(
            f"{type(language_model).__name__}.forward has no `logits_to_keep` argument, needed to compute logits "
            "at summary positions only; pass --summary_logits_only false"
        )


def summary_positions(labels: torch.Tensor, width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask of the positions that predict a summary token, their targets in row-major order): each position
    predicts the next token's label, as the causal-LM loss shifts them.

    Given `width`, the most such positions in a row (known on the host), instead (positions, targets), both
    batch x width: each row's positions in order, then positions that predict nothing, whose target is
    IGNORE_INDEX. The same loss, and no output shape that depends on the device's data (boolean-mask indexing
    must read the mask back: a device sync)."""
    next_labels = nn.functional.pad(labels[:, 1:], (0, 1), value=IGNORE_INDEX)
    keep = next_labels != IGNORE_INDEX
    if width is None:
        return keep, next_labels[keep]
    # A stable sort puts the kept positions first, in order; the rest follow, ignored by the loss.
    positions = torch.sort(keep.to(torch.int8), dim=1, descending=True, stable=True).indices[:, :width]
    return positions, next_labels.gather(1, positions)


def decode_labels(labels: list[list[int]], tokenizer) -> list[str]:
    """The reference summary is exactly the labelled tokens before EOS (byte-level BPE is lossless)."""
    texts = []
    for row in labels:
        ids = [t for t in row if t != IGNORE_INDEX and t != tokenizer.eos_token_id]
        texts.append(tokenizer.decode(ids).strip())
    return texts
