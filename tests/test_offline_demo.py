"""The offline demo's pieces at a tiny size: corpus, cached pretrained base model, every run, the report."""

import json
import os

from offline_demo.__main__ import main as demo_main
from offline_demo.base_model import (
    BaseModelSpec,
    corpus_documents,
    lm_blocks,
    pretrain_base_model,
    train_tokenizer,
)
from summarization_data.synthetic_news import write_corpus

TINY_DEMO = ["--num_train", "32", "--finetune_samples", "24", "--num_eval", "8", "--epochs", "1", "--pretrain_epochs", "1", "--max_length", "192",
             "--max_new_tokens", "24", "--base_layers", "1", "--base_width", "32", "--vocab_size", "400"]


def test_pretraining_uses_plain_text_blocks_and_is_cached(tmp_path):
    write_corpus(tmp_path / "corpus", 24, 4, 4, seed=3)
    documents = corpus_documents(str(tmp_path / "corpus"))
    assert len(documents) == 48  # articles and highlights as separate documents, no summarization format
    tokenizer = train_tokenizer(documents, 300, str(tmp_path / "tok"))
    blocks = lm_blocks(documents, tokenizer, 64)
    assert all(len(ids) == 64 for ids in blocks["input_ids"])
    assert sum(ids.count(tokenizer.eos_token_id) for ids in blocks["input_ids"]) >= 40  # documents end with EOS
    assert "TL;DR" not in tokenizer.decode(sum(blocks["input_ids"], []))

    spec = BaseModelSpec(vocab_size=300, n_layer=1, n_embd=32, n_head=2, block_size=64, epochs=1)
    messages = []
    pretrain_base_model(str(tmp_path / "corpus"), str(tmp_path / "base"), spec, log=messages.append)
    weights = (tmp_path / "base" / "model.safetensors").read_bytes()
    pretrain_base_model(str(tmp_path / "corpus"), str(tmp_path / "base"), spec, log=messages.append)
    assert "reusing" in messages[-1] and (tmp_path / "base" / "model.safetensors").read_bytes() == weights
    pretrain_base_model(str(tmp_path / "corpus"), str(tmp_path / "base"), BaseModelSpec(
        vocab_size=300, n_layer=1, n_embd=32, n_head=2, block_size=64, epochs=2), log=messages.append)
    assert "reusing" not in messages[-1]  # other settings: trained again


def test_demo_runs_every_baseline_and_method_and_writes_the_report(tmp_path, capsys):
    report = demo_main(["--output_dir", str(tmp_path), *TINY_DEMO])
    out = capsys.readouterr().out
    assert f"Report: {os.path.abspath(report)}" in out and "FAILED" not in out
    text = open(report).read()
    for name in ("lead-3", "zero-shot", "prompt", "lora", "head", "full"):
        with open(tmp_path / "runs" / name / "all_results.json") as handle:
            results = json.load(handle)
        assert results["method"] == name and "predict_rougeLsum" in results
        label = f"{name} (baseline)" if name in ("lead-3", "zero-shot") else name
        assert f"| {label} |" in text
    assert "0 failed" in text and "**failed**" not in text
    for image in ("loss_curves.png", "rouge.png", "frontier.png"):
        assert os.path.getsize(os.path.join(os.path.dirname(report), image)) > 20_000
