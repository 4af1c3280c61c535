"""`Trainer` that saves and restores only what the method trains.

A prompt or LoRA checkpoint holds a few thousand or million numbers, never a copy of the frozen base
model; a head checkpoint holds the head (and unfrozen blocks); a full run holds the whole model.
Saving and loading are delegated to the method's row in `peft_methods.METHODS`.
"""

from __future__ import annotations

import os

import torch
from transformers import Trainer
from transformers.trainer import TRAINING_ARGS_NAME

from peft_methods import Method


class SummarizationTrainer(Trainer):
    def __init__(self, *args, method: Method, **kwargs):
        super().__init__(*args, **kwargs)
        self.method = method

    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        output_dir = output_dir or self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(output_dir, exist_ok=True)
        self.method.save(self.accelerator.unwrap_model(self.model), output_dir)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, TRAINING_ARGS_NAME))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        self.method.load(self.accelerator.unwrap_model(model or self.model), resume_from_checkpoint)

    def _load_best_model(self) -> None:
        self.method.load(self.accelerator.unwrap_model(self.model), self.state.best_model_checkpoint)
