"""Each method: what trains, what stays frozen, how it saves, and that PEFT can load what it saves."""

import pytest
import torch
from peft import PeftModel
from transformers import GPT2Config, GPT2LMHeadModel, GPTNeoConfig, GPTNeoForCausalLM

from core import BadInputError
from peft_methods import METHODS, count_parameters
from peft_methods.head import HeadConfig
from peft_methods.ia3 import IA3MethodConfig
from peft_methods.lora import LoraMethodConfig
from peft_methods.soft_prompt import SoftPromptConfig, SoftPromptModel, init_token_ids

from .conftest import TINY, make_tiny_gpt2

CONFIGS = {
    "prompt": SoftPromptConfig(),
    "lora": LoraMethodConfig(lora_r=4, lora_alpha=8, lora_dropout=0.0),
    "ia3": IA3MethodConfig(),
    "head": HeadConfig(unfreeze_last_n_blocks=1),
    "full": None,
    "dora": LoraMethodConfig(lora_r=4, lora_alpha=8, lora_dropout=0.0),
}
V, D, L = 50257, TINY["n_embd"], TINY["n_layer"]
BLOCK = 12 * D * D + 13 * D  # ln_1, c_attn, c_proj, ln_2, c_fc, mlp c_proj (weights + biases)


def batch(tokenizer, seed=0):
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, 1000, (2, 24), generator=generator)
    labels = input_ids.clone()
    labels[:, :12] = -100
    mask = torch.ones_like(input_ids)
    mask[1, -4:] = 0
    labels[1, -4:] = -100
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def build(name, tokenizer, seed=0):
    return METHODS[name].build(make_tiny_gpt2(seed), CONFIGS[name], tokenizer)


@pytest.mark.parametrize("name", list(METHODS))
def test_trainable_parameter_count_equals_formula(name, tokenizer):
    model = build(name, tokenizer)
    trainable, total = count_parameters(model)
    base_total = V * D + 512 * D + L * BLOCK + 2 * D  # tied head counted once
    expected = {
        "prompt": (6 * D, base_total + 6 * D),
        "lora": (L * 4 * (D + 3 * D), base_total + L * 4 * (D + 3 * D)),
        # one scale per output of c_attn (q, k, v) and per input of the feed-forward c_proj
        "ia3": (L * (3 * D + 4 * D), base_total + L * (3 * D + 4 * D)),
        "head": (V * D + BLOCK, base_total + V * D),  # the untied head is a new matrix
        "full": (base_total, base_total),
        # LoRA's factors plus one magnitude per output of each adapted c_attn
        "dora": (L * (4 * (D + 3 * D) + 3 * D), base_total + L * (4 * (D + 3 * D) + 3 * D)),
    }[name]
    assert (trainable, total) == expected


def test_parameter_counts_at_gpt2_small_size_match_the_reference_table(tokenizer):
    """The parameter counts the README compares methods by, on GPT-2 small's exact shape (meta device: no memory)."""
    expected = {
        ("prompt", None): 4_608,
        ("lora", 128): (4_718_592, 129_158_400),
        ("dora", 128): (4_718_592 + 12 * 3 * 768, 129_158_400 + 12 * 3 * 768),
        ("ia3", None): 64_512,
        ("head", 0): 38_597_376,
        ("head", 1): 45_685_248,
    }
    configs = {("prompt", None): SoftPromptConfig(), ("lora", 128): LoraMethodConfig(lora_r=128, lora_alpha=32),
               ("dora", 128): LoraMethodConfig(),
               ("ia3", None): IA3MethodConfig(), ("head", 0): HeadConfig(), ("head", 1): HeadConfig(unfreeze_last_n_blocks=1)}
    for key, config in configs.items():
        with torch.device("meta"):
            base = GPT2LMHeadModel(GPT2Config())
        assert count_parameters(base)[1] == 124_439_808
        trainable, total = count_parameters(METHODS[key[0]].build(base, config, tokenizer))
        assert (trainable, total) == expected[key] if isinstance(expected[key], tuple) else trainable == expected[key]


@pytest.mark.parametrize("name", list(METHODS))
def test_a_few_steps_change_trained_weights_and_leave_frozen_weights_bit_identical(name, tokenizer):
    model = build(name, tokenizer)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for step in range(3):
        loss = model(**batch(tokenizer, step)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    for n, p in model.named_parameters():
        if n in trained:
            assert not torch.equal(p, before[n]), f"{n} should have trained"
        else:
            assert torch.equal(p, before[n]), f"{n} must stay frozen"
    if name == "head":  # untied: the input embeddings stay as they were
        assert "transformer.wte.weight" not in trained
        assert model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr()


@pytest.mark.parametrize("name", list(METHODS))
def test_save_writes_only_what_trained_and_load_restores_it(name, tokenizer, tmp_path):
    model = build(name, tokenizer)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.01)
    METHODS[name].save(model, str(tmp_path))
    files = {p.name for p in tmp_path.iterdir()}
    expected_files = {
        "prompt": {"adapter_config.json", "adapter_model.safetensors"},
        "lora": {"adapter_config.json", "adapter_model.safetensors"},
        "ia3": {"adapter_config.json", "adapter_model.safetensors"},
        "head": {"trainable_weights.safetensors", "method_config.json"},
        "full": {"model.safetensors", "config.json", "generation_config.json"},
        "dora": {"adapter_config.json", "adapter_model.safetensors"},
    }[name]
    assert expected_files <= files
    if name != "full":
        assert "model.safetensors" not in files
    fresh = build(name, tokenizer)
    METHODS[name].load(fresh, str(tmp_path))
    inputs = batch(tokenizer)
    torch.testing.assert_close(fresh.eval()(**inputs).logits, model.eval()(**inputs).logits)


def test_soft_prompt_is_initialised_from_the_init_text_and_repeated_or_cut(tokenizer):
    ids = tokenizer("[SUMMARIZE]", add_special_tokens=False)["input_ids"]
    assert len(ids) == 6
    assert init_token_ids(tokenizer, "[SUMMARIZE]", 14) == (ids * 3)[:14]
    assert init_token_ids(tokenizer, "[SUMMARIZE]", 4) == ids[:4]
    model = METHODS["prompt"].build(make_tiny_gpt2(), SoftPromptConfig(num_virtual_tokens=8), tokenizer)
    expected = model.base_model.transformer.wte.weight[(ids * 2)[:8]]
    assert model.prompt_embeddings.dtype == torch.float32
    torch.testing.assert_close(model.prompt_embeddings, expected)


def test_soft_prompt_follows_peft_contract_and_loads_with_peft(tokenizer, tmp_path):
    model = build("prompt", tokenizer)
    with torch.no_grad():
        model.prompt_embeddings.normal_()  # a "trained" prompt, unlike the init
    model.save_pretrained(str(tmp_path))
    inputs = batch(tokenizer)
    ours = model(**inputs)
    assert ours.logits.shape[1] == inputs["input_ids"].shape[1] + 6  # virtual positions kept, as PEFT does

    peft_model = PeftModel.from_pretrained(make_tiny_gpt2(), str(tmp_path))
    peft_model.eval()
    model.eval()
    theirs = peft_model(**inputs)
    torch.testing.assert_close(theirs.logits, model(**inputs).logits)
    torch.testing.assert_close(theirs.loss, model(**inputs).loss)
    # and our loader reads what PEFT would save
    peft_model.save_pretrained(str(tmp_path / "from_peft"))
    reloaded = SoftPromptModel.from_pretrained(make_tiny_gpt2(), str(tmp_path / "from_peft"))
    torch.testing.assert_close(reloaded.prompt_embeddings, model.prompt_embeddings)


def test_soft_prompt_logits_to_keep_selects_the_callers_positions(tokenizer):
    """`logits_to_keep` names positions of the caller's tokens, whatever its form: the result equals the base
    model's logits with the prompt prepended by hand, at the same positions of the caller's tokens."""
    model = build("prompt", tokenizer).eval()
    with torch.no_grad():
        model.prompt_embeddings.normal_()
    inputs = batch(tokenizer)
    features = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
    virtual = model.num_virtual_tokens
    with torch.no_grad():
        embeds = model.base_model.get_input_embeddings()(inputs["input_ids"])
        prompts = model.prompt_embeddings.expand(embeds.shape[0], -1, -1)
        mask = torch.cat((torch.ones(embeds.shape[0], virtual, dtype=torch.long), inputs["attention_mask"]), dim=1)
        reference = model.base_model(inputs_embeds=torch.cat((prompts, embeds), dim=1), attention_mask=mask).logits

        def logits(keep):
            return model(**features, logits_to_keep=keep).logits

        torch.testing.assert_close(logits(0), reference)  # 0: every position, the virtual ones included
        for k in (1, 5):  # an int: the last k positions, which a prefix does not move
            assert logits(k).shape == (2, k, V)
            torch.testing.assert_close(logits(k), reference[:, -k:])
        positions = torch.tensor([0, 7, 23])  # an index tensor: the caller's positions, past the virtual tokens
        torch.testing.assert_close(logits(positions), reference[:, virtual + positions])
        per_row = torch.tensor([[1, 2], [3, 20]])
        torch.testing.assert_close(logits(per_row), torch.stack([reference[row, virtual + per_row[row]]
                                                                 for row in range(2)]))
        keep = inputs["labels"] != -100  # a boolean mask (what the trainer passes): the True positions, flattened
        torch.testing.assert_close(logits(keep), reference[:, virtual:][keep])


@pytest.mark.parametrize("name", ["lora", "dora"])
def test_lora_adapter_loads_with_peft_and_gives_equal_logits(name, tokenizer, tmp_path):
    model = build(name, tokenizer)
    with torch.no_grad():
        for parameter_name, p in model.named_parameters():
            if "lora_B" in parameter_name:
                p.normal_(std=0.1)  # B starts at zero; make the adapter matter
    model.save_pretrained(str(tmp_path))
    loaded = PeftModel.from_pretrained(make_tiny_gpt2(), str(tmp_path)).eval()
    inputs = batch(tokenizer)
    reference = make_tiny_gpt2()(**inputs).logits
    torch.testing.assert_close(loaded(**inputs).logits, model.eval()(**inputs).logits)
    assert not torch.allclose(loaded(**inputs).logits, reference)
    assert loaded.peft_config["default"].use_dora is (name == "dora")  # DoRA: LoRA's format with use_dora


def test_lora_fan_in_fan_out_follows_the_layer_type(tokenizer):
    gpt2 = build("lora", tokenizer)
    assert gpt2.peft_config["default"].fan_in_fan_out is True
    assert set(gpt2.peft_config["default"].target_modules) == {"c_attn"}
    neo = GPTNeoForCausalLM(GPTNeoConfig(vocab_size=1000, hidden_size=32, num_layers=2, num_heads=2,
                                         attention_types=[[["global"], 2]], max_position_embeddings=64))
    neo = METHODS["lora"].build(neo, LoraMethodConfig(lora_r=2), tokenizer)
    assert neo.peft_config["default"].fan_in_fan_out is False
    assert set(neo.peft_config["default"].target_modules) == {"q_proj", "v_proj"}


def test_lora_unknown_target_module_names_the_choices(tokenizer):
    with pytest.raises(BadInputError, match="--lora_target_modules q_proj: no such module in gpt2; choose from: .*c_attn"):
        METHODS["lora"].build(make_tiny_gpt2(), LoraMethodConfig(lora_target_modules=["q_proj"]), tokenizer)


def test_head_can_train_the_tied_matrix_when_asked(tokenizer):
    model = METHODS["head"].build(make_tiny_gpt2(), HeadConfig(untie_lm_head=False), tokenizer)
    assert model.lm_head.weight is model.transformer.wte.weight
    assert count_parameters(model)[0] == V * D


def test_bad_method_flags_are_refused():
    with pytest.raises(BadInputError, match="--num_virtual_tokens must be at least 1"):
        SoftPromptConfig(num_virtual_tokens=0)
    with pytest.raises(BadInputError, match="--lora_r must be at least 1"):
        LoraMethodConfig(lora_r=0)
    with pytest.raises(BadInputError, match="exceeds the model's 2 blocks"):
        METHODS["head"].build(make_tiny_gpt2(), HeadConfig(unfreeze_last_n_blocks=3), None)
