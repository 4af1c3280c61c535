"""The comparison command at a tiny size: the real-language preset (BBC layout, a GGUF Llama converted on the
fly: both written by the test), the synthetic preset with its cached pretrained base model, every row, the report."""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from comparison import resume
from comparison.__main__ import REPOSITORY
from comparison.__main__ import main as demo_main
from core import run_folder
from generated_news.corpus import write_corpus
from generated_news.tiny_model import (
    BaseModelSpec,
    corpus_documents,
    lm_blocks,
    pretrain_base_model,
    train_tokenizer,
)

from .test_bbc_news import layout, story
from .test_gguf import write_tiny_llama_gguf
from .test_report import parse_table

TINY = ["--train_samples", "8", "--eval_samples", "4", "--test_samples", "4", "--epochs", "1",
        "--max_new_tokens", "8"]


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


def check_report(report, out, names):
    text = open(report).read()
    for name in names:
        with open(os.path.join(out, "runs", name, "all_results.json")) as handle:
            results = json.load(handle)
        assert "predict_rougeLsum" in results, name
        baseline = name.startswith(("lead-", "zero-shot"))
        method = name.split("-seed")[0]
        assert results["method"] == (method if not baseline or name.startswith("lead-") else "zero-shot")
        assert (results["trainable_params"] > 0) == (not baseline)
    assert "0 failed" in text and "**failed**" not in text
    faithfulness = text.split("## Faithfulness and abstractiveness")[1]
    table_rows = {label.replace(" (baseline)", "") for label in parse_table(text)[1]}
    faithful_rows = parse_table(faithfulness[faithfulness.index("| row |"):].replace("| row |", "| method |", 1))[1]
    assert set(faithful_rows) == table_rows | {"reference summaries"}
    for image in ("loss_curves.png", "rouge.png", "frontier.png"):
        assert os.path.getsize(os.path.join(os.path.dirname(report), image)) > 20_000


def check_faithfulness(report, runs, articles):
    """The report's faithfulness cells equal `python -m metrics.faithfulness` on each row's predictions file and the
    test articles (the real English NER); lead-1 copies its article's first sentence, so it is wholly extractive."""
    from metrics.faithfulness import SCORES, TITLES, format_score
    from metrics.faithfulness import main as faithfulness_main

    section = open(report).read().split("## Faithfulness and abstractiveness")[1]
    _, rows = parse_table(section[section.index("| row |"):].replace("| row |", "| method |", 1))
    for name in ("lead-1", "lora"):
        faithfulness_main([str(runs / name / "generated_predictions.jsonl"), "--articles", str(articles),
                           "--output_file", str(runs / f"{name}-faithfulness.json")])
        means = next(iter(json.load(open(runs / f"{name}-faithfulness.json")).values()))["means"]
        for key in SCORES:
            assert rows[name][TITLES[key]].split(" (")[0] == format_score(key, means[key]), (name, key)
    assert rows["lead-1"]["coverage %"] == "100.0 (100.0–100.0)"
    assert rows["lead-1"]["novel 1-grams %"] == "0.0 (0.0–0.0)"


def test_bbc_preset_runs_every_row_on_a_converted_gguf_and_the_bbc_layout(tmp_path, monkeypatch, capsys):
    from model_loading import gguf
    from summarization_data import bbc_news

    corpus = tmp_path / "bbc"
    for index in range(40):
        topic = ("business", "tech")[index % 2]
        (corpus / topic).mkdir(parents=True, exist_ok=True)
        headline, _, body = story(index)  # a short intro: the tiny model's 128-token context holds it
        intro = f"Firm {index} reported record {topic} sales."
        (corpus / topic / f"{index:03d}.txt").write_text(layout(headline, intro, body), encoding="utf-8")
    monkeypatch.setattr(bbc_news, "bbc_news_root", lambda: str(corpus))
    tiny = write_tiny_llama_gguf(tmp_path / "tiny.gguf")
    monkeypatch.setattr(gguf, "smollm2_gguf_path", lambda: tiny)
    monkeypatch.setattr("comparison.__main__.BBC_SPLIT", {"seed": 0, "num_test": 6, "num_validation": 6})

    out = tmp_path / "demo"
    # The two methods with preset-specific flags (every method runs on Llama models in test_model_families).
    # Two rows at a time (the GPU sizes' way): every row still finishes, its output lines carry its name.
    report = demo_main(["--output_dir", str(out), "--max_length", "128", "--methods", "prompt", "lora", *TINY,
                        "--parallel", "2"])
    output = capsys.readouterr().out
    assert "FAILED" not in output and "\n[lora (seed 0)] " in output and "\n[zero-shot-chat] " in output
    check_report(report, out, ["lead-1", "lead-3", "zero-shot", "zero-shot-chat", "prompt", "lora"])
    check_faithfulness(report, out / "runs", out / "bbc_news" / "test.csv")
    with open(out / "runs" / "zero-shot-chat" / "prompt_format.json") as handle:
        assert "<|im_start|>" in json.load(handle)["prefix"]  # the chat template's turns, around the article
    with open(out / "runs" / "lora" / "README.md") as handle:
        card = handle.read()
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and str(out) not in card.split("---")[1]


def test_bbc_sizes_on_a_gpu_are_gpu_sized_and_flags_still_apply(monkeypatch):
    from comparison.__main__ import PRESET_SIZES, parse_args

    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    gpu = parse_args([])
    assert (gpu.train_samples, gpu.test_samples, gpu.epochs, gpu.batch_size, gpu.eval_batch_size, gpu.parallel) == (
        None, 200, 3, 64, 200, 5)
    given = parse_args(["--train_samples", "100", "--test_samples", "20", "--epochs", "1", "--batch_size", "8",
                        "--parallel", "1"])
    assert (given.train_samples, given.test_samples, given.epochs, given.batch_size, given.parallel) == (
        100, 20, 1, 8, 1)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    cpu = parse_args([])
    assert {name: getattr(cpu, name) for name in PRESET_SIZES["bbc"]} == PRESET_SIZES["bbc"]
    assert parse_args(["--preset", "synthetic"]).batch_size == PRESET_SIZES["synthetic"]["batch_size"]
    # The demo's five methods; a registered variant (DoRA) joins by name.
    assert cpu.methods == ["prompt", "lora", "ia3", "head", "full"]
    assert parse_args(["--methods", "lora", "dora"]).methods == ["lora", "dora"]


# One method (every method already ran end to end in the bbc preset's test), two seeds, a two-rate sweep; two
# epochs, so a row has a checkpoint to resume from before it finishes.
SYNTHETIC = ["--preset", "synthetic", "--corpus_articles", "32", "--max_length", "192", "--methods", "lora", *TINY,
             "--train_samples", "32", "--epochs", "2", "--seeds", "2", "--learning_rates", "lora=1e-4,3e-2"]
SYNTHETIC_ROWS = ["lead-3", "zero-shot", "lora-seed0", "lora-seed1"]


@pytest.fixture(scope="module")
def synthetic_comparison(tmp_path_factory):
    """The synthetic comparison, run once without interruption: (its output folder, REPORT.md, its output)."""
    out = tmp_path_factory.mktemp("synthetic") / "demo"
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        report = demo_main([*SYNTHETIC, "--output_dir", str(out)])
    return out, report, output.getvalue()


def test_synthetic_preset_runs_its_baselines_and_a_method(synthetic_comparison):
    out, report, output = synthetic_comparison
    assert f"Report: {os.path.abspath(report)}" in output
    check_report(report, out, SYNTHETIC_ROWS)
    with open(out / "sweep" / "sweep.json") as handle:
        sweep = json.load(handle)["lora"]
    losses = {float(rate): scores["eval_loss"] for rate, scores in sweep["results"].items()}
    assert set(losses) == {1e-4, 3e-2} and len(set(losses.values())) == 2  # the rates trained differently
    assert sweep["chosen"] == min(losses, key=losses.get)
    seeds = [json.load(open(out / "runs" / f"lora-seed{k}" / "all_results.json")) for k in (0, 1)]
    assert [r["learning_rate"] for r in seeds] == [sweep["chosen"]] * 2 and [r["seed"] for r in seeds] == [0, 1]
    assert seeds[0]["train_data_fingerprint"] == seeds[1]["train_data_fingerprint"]  # same data sample
    text = open(report).read()
    assert "| lora | " in text and "| 2 (sd " in text and "## Which differences are real" in text
    assert f"| lora | **{sweep['chosen']:g}** |" in text


def modification_times(folder) -> dict:
    return {path: os.stat(path).st_mtime_ns for path in resume.folder_files(str(folder))}


def scores(out, name) -> tuple:
    with open(out / "runs" / name / "generated_predictions.jsonl", encoding="utf-8") as handle:
        predictions = handle.read()
    with open(out / "runs" / name / "all_results.json", encoding="utf-8") as handle:
        results = json.load(handle)
    return predictions, {key: value for key, value in results.items() if key.startswith("predict_rouge")}


def test_a_killed_comparison_reruns_only_what_is_left(synthetic_comparison, tmp_path, capsys):
    """SIGKILL during a method's training; the same command again keeps the finished rows untouched, resumes the
    killed row from its checkpoint, and ends where the uninterrupted comparison ended (which rows a changed flag
    reruns: tests/test_comparison_resume.py)."""
    straight, _, _ = synthetic_comparison
    out = tmp_path / "demo"
    one_seed = [*SYNTHETIC, "--seeds", "1"]  # its row (folder `lora`) is the straight comparison's lora-seed0
    command = [sys.executable, "-m", "comparison", *one_seed, "--output_dir", str(out)]
    with open(tmp_path / "first.log", "w") as log:
        process = subprocess.Popen(command, cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    killed_row = out / "runs" / "lora"
    deadline = time.monotonic() + 600
    while run_folder.latest_complete_checkpoint(str(killed_row)) is None:  # epoch 1 of 2 saved
        assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "first.log").read_text()[-3000:]
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the comparison and its row, at once
    process.wait()
    assert not run_folder.is_finished(str(killed_row))
    finished = {name: modification_times(out / "runs" / name) for name in ("lead-3", "zero-shot")}
    finished["sweep"] = modification_times(out / "sweep")  # the sweep's run folders (sweep.json: once it is over)

    report = demo_main([*one_seed, "--output_dir", str(out)])
    output = capsys.readouterr().out
    for name in ("lead-3", "zero-shot", "lora at learning rate 0.0001", "lora at learning rate 0.03"):
        assert f"[demo] {name}: {resume.SKIP}" in output
    assert f"[demo] lora (seed 0): {resume.RESUME}" in output
    for name in ("lead-3", "zero-shot"):
        assert modification_times(out / "runs" / name) == finished[name]  # not even rewritten
    assert modification_times(out / "sweep").items() >= finished["sweep"].items()
    for name, straight_name in (("lead-3", "lead-3"), ("zero-shot", "zero-shot"), ("lora", "lora-seed0")):
        # the same summaries and scores as the comparison that was never stopped
        assert scores(out, name) == scores(straight, straight_name), name
    check_report(report, out, ["lead-3", "zero-shot", "lora"])

