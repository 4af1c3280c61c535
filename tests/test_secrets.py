"""A Hub token given with --hub_token reaches the Hub calls and nothing else: no file of the run folder
(checkpoints, training_args.bin and TensorBoard logs included, read as bytes), no line of output. Model code
from the Hub runs only when asked, and weights are written as safetensors, never as pickles."""

from pathlib import Path
from types import SimpleNamespace

import torch
import transformers
from huggingface_hub import HfApi

import run_summarization
from model_loading import load_base_model
from summarization_training import command_line

from .conftest import cli

TOKEN = "hf_SECRETtesttoken123"


def test_hub_token_goes_to_the_hub_calls_only(tmp_path, tiny_model_dir, news_dir, monkeypatch, capfd, caplog):
    calls = {}
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.setdefault("create", kw) and None)
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: calls.setdefault("upload", kw) and None)
    out = tmp_path / "out"
    with caplog.at_level("DEBUG"):
        run_summarization.main(cli(tiny_model_dir, news_dir, str(out), "lora", "--num_train_epochs", "1",
                                   "--push_to_hub", "--hub_model_id", "me/tiny-lora", "--hub_token", TOKEN,
                                   "--report_to", "tensorboard", "--logging_steps", "1"))
    assert calls["create"]["token"] == TOKEN and calls["upload"]["token"] == TOKEN
    files = [path for path in out.rglob("*") if path.is_file()]
    names = {path.name for path in files}
    assert {"training_args.bin", "all_results.json", "README.md", "trainer_state.json"} <= names
    assert any(path.parent.name.startswith("checkpoint-") for path in files)
    assert any(name.startswith("events.out.tfevents") for name in names)
    assert [str(path) for path in files if TOKEN.encode() in path.read_bytes()] == []
    output = capfd.readouterr()
    assert TOKEN not in output.out + output.err + caplog.text
    # The arguments saved with the run still say everything else they said.
    saved = torch.load(out / "training_args.bin", weights_only=False)
    assert saved.hub_token is None and saved.hub_model_id == "me/tiny-lora" and saved.learning_rate == 1e-3


def test_remote_code_runs_only_when_asked(tiny_model_dir, news_dir, tmp_path, monkeypatch):
    seen = []

    def from_pretrained(name, **kwargs):
        seen.append(kwargs["trust_remote_code"])
        return SimpleNamespace(pad_token_id=0, eos_token_id=0, modules=lambda: [])

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", from_pretrained)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", from_pretrained)
    argv = cli(tiny_model_dir, news_dir, str(tmp_path / "out"), "lora")
    for extra in ([], ["--trust_remote_code", "true"]):
        model_args = command_line.parse_arguments([*argv, *extra])[0]
        load_base_model(model_args.model_name_or_path, model_args, model_args.tokenizer_name)
    assert seen == [False, False, True, True]


def test_weights_are_safetensors_never_pickles(runs):
    # Pickles only for Trainer's own training state (optimizer, scheduler, RNG) and arguments, never weights.
    trainer_state = {"training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth"}
    for method, folder in runs.items():
        files = [path for path in Path(folder).rglob("*") if path.is_file()]
        pickles = {path.name for path in files if path.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"}}
        assert pickles <= trainer_state, (method, pickles)
        assert any(path.suffix == ".safetensors" and path.parent == Path(folder) for path in files), method
