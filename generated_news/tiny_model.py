"""The demo's base model: a small GPT-2 pretrained here on the generated corpus's plain text.

A summarization method can only be compared on a base model that already knows the language; nothing
can be downloaded, so the demo makes one: a byte-level BPE tokenizer and a small GPT-2-architecture
model trained as a plain causal LM on the articles and highlights as separate documents (not in the
article -> summary format, so the zero-shot baseline is a real baseline). The result is cached:
a later run with the same settings reuses it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import asdict, dataclass

import torch
from datasets import Dataset
from tokenizers import ByteLevelBPETokenizer
from transformers import (
    DataCollatorForLanguageModeling,
    GPT2Config,
    GPT2LMHeadModel,
    GPT2TokenizerFast,
    Trainer,
    TrainingArguments,
)

EOS = "<|endoftext|>"
STAMP_NAME = "demo_base_model.json"


@dataclass(frozen=True)
class BaseModelSpec:
    vocab_size: int = 2048
    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    n_positions: int = 512
    block_size: int = 320  # the demo's --max_length: every position the fine-tuning uses is pretrained
    epochs: float = 3.0
    learning_rate: float = 2e-3
    batch_size: int = 16
    seed: int = 0

    def fingerprint(self, corpus_dir: str) -> str:
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode())
        with open(os.path.join(corpus_dir, "train.csv"), "rb") as handle:
            digest.update(handle.read())
        return digest.hexdigest()[:16]


def corpus_documents(corpus_dir: str, split: str = "train") -> list[str]:
    with open(os.path.join(corpus_dir, f"{split}.csv"), newline="", encoding="utf-8") as handle:
        return [row[column] for row in csv.DictReader(handle) for column in ("article", "highlights")]


def train_tokenizer(documents: list[str], vocab_size: int, output_dir: str) -> GPT2TokenizerFast:
    """GPT-2's tokenizer recipe (byte-level BPE, one EOS special token) with a small vocabulary."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(documents, vocab_size=vocab_size, special_tokens=[EOS], show_progress=False)
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, eos_token=EOS, bos_token=EOS, unk_token=EOS)
    tokenizer.save_pretrained(output_dir)
    return tokenizer


def lm_blocks(documents: list[str], tokenizer, block_size: int) -> Dataset:
    """Documents joined with EOS and cut into equal blocks, as GPT-2 was pretrained."""
    stream = []
    for ids in tokenizer(documents, add_special_tokens=False)["input_ids"]:
        stream += ids + [tokenizer.eos_token_id]
    blocks = [stream[i:i + block_size] for i in range(0, len(stream) - block_size + 1, block_size)]
    return Dataset.from_dict({"input_ids": blocks})


def pretrain_base_model(corpus_dir: str, output_dir: str, spec: BaseModelSpec = BaseModelSpec(),
                        log=print) -> str:
    fingerprint = spec.fingerprint(corpus_dir)
    stamp = os.path.join(output_dir, STAMP_NAME)
    if os.path.isfile(stamp):
        with open(stamp) as handle:
            if json.load(handle).get("fingerprint") == fingerprint:
                log(f"[demo] reusing the pretrained base model in {output_dir}")
                return output_dir
    documents = corpus_documents(corpus_dir)
    tokenizer = train_tokenizer(documents, spec.vocab_size, output_dir)
    blocks = lm_blocks(documents, tokenizer, spec.block_size)
    log(f"[demo] pretraining a {spec.n_layer}-layer, {spec.n_embd}-wide GPT-2 on {len(blocks) * spec.block_size:,} "
        f"tokens of plain news text ({spec.epochs:g} epochs)")
    torch.manual_seed(spec.seed)
    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_positions=spec.n_positions, n_embd=spec.n_embd, n_layer=spec.n_layer,
        n_head=spec.n_head, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        activation_function="gelu_pytorch_tanh",  # GPT-2's GELU as one fused kernel (model_loading/kernels.py)
    ))
    args = TrainingArguments(
        output_dir=os.path.join(output_dir, "pretraining"), num_train_epochs=spec.epochs,
        per_device_train_batch_size=spec.batch_size, learning_rate=spec.learning_rate, warmup_steps=0.05,
        lr_scheduler_type="cosine", weight_decay=0.01, logging_steps=25, save_strategy="no", report_to="none",
        seed=spec.seed, dataloader_pin_memory=False,
    )
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    tokenizer.pad_token = tokenizer.eos_token
    trainer = Trainer(model=model, args=args, train_dataset=blocks, data_collator=collator)
    result = trainer.train()
    model.save_pretrained(output_dir)
    with open(stamp, "w") as handle:
        json.dump({"fingerprint": fingerprint, "spec": asdict(spec), "train_loss": result.training_loss,
                   "train_runtime": result.metrics["train_runtime"]}, handle, indent=2)
    log(f"[demo] base model ready: final training loss {result.training_loss:.3f}, "
        f"{result.metrics['train_runtime']:.0f} s")
    return output_dir
