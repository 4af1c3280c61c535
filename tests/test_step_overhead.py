"""The training step never reads the device back: no `.item()`, `.tolist()`, `.cpu()`, tensor truth value or
data-dependent shape (boolean-mask indexing, `nonzero`) after the first step. On CUDA each of those makes the host
wait for every kernel queued so far. The host-side counts that replace them give the same numbers."""

import traceback
import warnings

import pytest
import torch
from datasets import Dataset
from torch.overrides import TorchFunctionMode
from transformers import TrainerCallback

from peft_methods import METHODS
from summarization_data import SummarizationCollator
from summarization_data.collator import HOST_COUNTS
from summarization_training import SummarizationTrainer, SummarizationTrainingArguments
from summarization_training.trainer import summary_positions
from trainer_callbacks import (
    PeakMemoryCallback,
    PreemptionCallback,
    ThroughputCallback,
    insert_before_reporters,
)

from .test_methods import build
from .test_summary_logits import comparable_model, loss_and_grads, ragged_batch

# Tensor methods that return host values (each waits for the device) or shapes that depend on the data.
READS_BACK = {"item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "__index__", "nonzero",
              "masked_select", "argwhere", "nonzero_static", "unique", "bincount"}


# transformers' own mask preparation checks in every eager forward whether the batch has padding (masking_utils:
# `fast_all(padding_mask)`, or the packed-sequence check without a mask): the model's read-back, made by a
# hand-written loop just the same, not the pipeline's. Everything else must stay off the step.
MODELS_OWN = ("transformers/masking_utils.py",)


def _is_boolean_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(part, torch.Tensor) and part.dtype == torch.bool for part in parts)


class HostReads(TorchFunctionMode):
    """Records every call on a tensor that reads the device back (with where it was made), while active."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        if name in READS_BACK or (name in ("__getitem__", "index") and len(args) > 1 and _is_boolean_index(args[1])):
            frames = [f for f in traceback.extract_stack()[:-1] if "/torch/" not in f.filename]
            where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
            if not any(own in where for own in MODELS_OWN):
                self.calls.append(f"{name} at {where}")
        return func(*args, **(kwargs or {}))


class RecordStepReads(TrainerCallback):
    """Everything between the start and the end of each optimizer step after the first (the first may set
    things up), i.e. forward, backward, clipping, optimizer, Trainer's per-step bookkeeping and every callback's
    on_step_begin. Logging, saving and evaluation come after on_step_end, outside."""

    def __init__(self):
        self.mode = None
        self.calls = {}

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step >= 1:
            self.mode = HostReads().__enter__()

    def on_step_end(self, args, state, control, **kwargs):
        if self.mode is not None:
            self.mode.__exit__(None, None, None)
            self.calls[state.global_step] = self.mode.calls
            self.mode = None


def examples(count=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    rows = {"input_ids": [], "labels": []}
    for i in range(count):
        article, summary = 12 + 5 * (i % 4), 4 + 3 * (i % 3)  # ragged, so padding and widths differ by batch
        ids = torch.randint(0, 1000, (article + summary,), generator=generator).tolist()
        rows["input_ids"].append(ids)
        rows["labels"].append([-100] * article + ids[article:])
    return Dataset.from_dict(rows)


def train(name, tokenizer, tmp_path, steps=4, callbacks=(), collator_after_init=None, **overrides):
    """A few steps of the real pipeline: SummarizationTrainer with run_summarization.py's callbacks."""
    args = SummarizationTrainingArguments(**{
        "output_dir": str(tmp_path), "per_device_train_batch_size": 2, "max_steps": steps, "report_to": [],
        "use_cpu": True, "eval_strategy": "no", "save_strategy": "no", "load_best_model_at_end": False,
        "early_stopping_patience": None, "disable_tqdm": True, "logging_steps": 2, **overrides})
    trainer = SummarizationTrainer(model=build(name, tokenizer), args=args, train_dataset=examples(),
                                   data_collator=SummarizationCollator(pad_token_id=50256), method=METHODS[name],
                                   callbacks=[PreemptionCallback()])
    insert_before_reporters(trainer, [ThroughputCallback(), PeakMemoryCallback()])
    for callback in callbacks:
        trainer.add_callback(callback)
    if collator_after_init is not None:
        trainer.data_collator = collator_after_init
    trainer.train()
    return trainer


# The three kinds of model a step runs: the soft-prompt wrapper, a PEFT model, a plain transformers model.
@pytest.mark.parametrize("name", ["prompt", "lora", "full"])
def test_training_steps_after_the_first_never_read_the_device(name, tokenizer, tmp_path):
    recorder = RecordStepReads()
    train(name, tokenizer, tmp_path, callbacks=[recorder])
    assert sorted(recorder.calls) == [2, 3, 4]  # the recorder saw the steps (logging_steps=2: logs in between)
    assert all(calls == [] for calls in recorder.calls.values()), recorder.calls


@pytest.mark.parametrize("setting, expected", [
    ({"logging_nan_inf_filter": True}, "__bool__"),  # Trainer's NaN check: `if torch.isnan(loss) or ...`
    ({"include_num_input_tokens_seen": "all"}, "item"),  # Trainer's own count: gather(...).sum().item()
])
def test_the_recorder_catches_trainers_per_step_reads(setting, expected, tokenizer, tmp_path):
    """The check above can fail: Trainer's own per-step reads are caught when switched back on."""
    recorder = RecordStepReads()
    train("lora", tokenizer, tmp_path, callbacks=[recorder], **setting)
    assert all(any(call.startswith(expected) for call in calls) for calls in recorder.calls.values()), recorder.calls


def test_the_recorder_catches_boolean_mask_positions(tokenizer, tmp_path):
    """Without the collator's host-side counts, the loss falls back to a boolean mask, and the token count to
    Trainer's: both caught."""
    recorder = RecordStepReads()
    train("lora", tokenizer, tmp_path, callbacks=[recorder],
          collator_after_init=SummarizationCollator(pad_token_id=50256))
    for calls in recorder.calls.values():
        assert any(call.startswith("__getitem__") for call in calls) and any(call.startswith("item") for call in calls)


def test_host_count_of_tokens_equals_trainers_count(tokenizer, tmp_path):
    """The same `num_input_tokens_seen` (what throughput and the resume totals are made of) either way."""
    host = train("lora", tokenizer, tmp_path / "host")
    device = train("lora", tokenizer, tmp_path / "device", include_num_input_tokens_seen="all")
    padded = device.state.num_input_tokens_seen
    mask_total = sum(len(ids) for ids in examples()["input_ids"])  # 4 steps x 2 = the 8 examples, once each
    assert host.state.num_input_tokens_seen == mask_total < padded
    logged = [entry["num_input_tokens_seen"] for entry in host.state.log_history if "loss" in entry]
    assert len(logged) == 2 and 0 < logged[0] < logged[1] == mask_total


@pytest.mark.parametrize("name", list(METHODS))
def test_integer_positions_give_the_boolean_mask_loss_and_gradients(name, tokenizer, tmp_path):
    model = comparable_model(name, tokenizer)
    args = SummarizationTrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True, eval_strategy="no",
                                          save_strategy="no", load_best_model_at_end=False)
    trainer = SummarizationTrainer(model=model, args=args, method=METHODS[name])
    plain = ragged_batch()
    counted = {**plain, HOST_COUNTS: {"non_padding_tokens": int(plain["attention_mask"].sum()),
                                      "summary_width": 12}}  # ragged_batch's longest summary
    for num_items_in_batch in (None, torch.tensor(23)):
        loss, grads = loss_and_grads(trainer, model, counted, num_items_in_batch)
        reference_loss, reference_grads = loss_and_grads(trainer, model, plain, num_items_in_batch)
        torch.testing.assert_close(loss, reference_loss, rtol=1e-6, atol=1e-7)
        assert grads.keys() == reference_grads.keys() and grads
        for key in grads:
            torch.testing.assert_close(grads[key], reference_grads[key], rtol=1e-5, atol=1e-8)


def test_integer_positions_are_each_rows_summary_positions_in_order():
    labels = torch.tensor([[-100, -100, 5, 6, 7, -100],    # summary 5 6 7: predicted from positions 1, 2, 3
                           [-100, 8, 9, -100, -100, -100]])  # 8 9: from positions 0, 1; then padding
    positions, targets = summary_positions(labels, width=3)
    assert positions[0].tolist() == [1, 2, 3] and targets[0].tolist() == [5, 6, 7]
    assert positions[1, :2].tolist() == [0, 1] and targets[1].tolist() == [8, 9, -100]
    keep, flat_targets = summary_positions(labels)
    assert flat_targets.tolist() == targets[targets != -100].tolist()


def test_collator_counts_match_the_tensors():
    features = [{"input_ids": [1, 2, 3, 4, 5], "labels": [-100, -100, 3, 4, 5]},
                {"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}]
    batch = SummarizationCollator(pad_token_id=0, host_counts=True)(features)
    keep, _ = summary_positions(batch["labels"])
    assert batch[HOST_COUNTS] == {"non_padding_tokens": int(batch["attention_mask"].sum()),
                                  "summary_width": int(keep.sum(dim=1).max())} == {"non_padding_tokens": 8,
                                                                                   "summary_width": 3}
    assert HOST_COUNTS not in SummarizationCollator(pad_token_id=0)(features)  # model(**batch) keeps working


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA's sync debug mode needs a CUDA device")
@pytest.mark.parametrize("name", ["lora", "prompt"])
def test_cuda_training_steps_after_the_first_do_not_synchronize(name, tokenizer, tmp_path):
    """On a GPU, every step after the first runs under `torch.cuda.set_sync_debug_mode`, which flags every
    synchronizing CUDA call, C++ ones included (`.item()`, device-to-host copies, `nonzero`, blocking host-to-device
    copies). "warn" rather than "error": transformers' mask preparation syncs in every eager forward (MODELS_OWN),
    and its warnings are told apart by the Python file that made the call."""

    class SyncWarnings(TrainerCallback):
        def __init__(self):
            self.steps = 0

        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step >= 1:
                torch.cuda.set_sync_debug_mode("warn")

        def on_step_end(self, args, state, control, **kwargs):
            if torch.cuda.get_sync_debug_mode() != 0:
                self.steps += 1
            torch.cuda.set_sync_debug_mode("default")

    callback = SyncWarnings()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            train(name, tokenizer, tmp_path, callbacks=[callback], use_cpu=False)  # bf16 where the GPU has it
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert callback.steps == 3
    syncs = [f"{w.filename}:{w.lineno}: {w.message}" for w in caught if "synchroniz" in str(w.message).lower()]
    assert [sync for sync in syncs if not any(own in sync for own in MODELS_OWN)] == [], syncs
