"""The fused GELU computes GPT-2's activation: same logits and gradients (to float rounding), every block swapped,
and every loader applies it."""

import torch
from transformers import AutoConfig, GPTNeoConfig, GPTNeoForCausalLM
from transformers.activations import GELUTanh, NewGELUActivation

from model_loading import ModelArguments, load_base_model
from model_loading.kernels import use_fused_gelu
from peft_methods.loading import load_trained_model

from .conftest import TINY, base_spec, make_tiny_gpt2


def activations(model):
    return [type(module) for module in model.modules() if isinstance(module, (GELUTanh, NewGELUActivation))]


def test_fused_gelu_gives_the_same_logits_and_gradients():
    stock, fused = make_tiny_gpt2(seed=1).eval(), make_tiny_gpt2(seed=1).eval()  # no dropout: same network
    assert use_fused_gelu(fused) == TINY["n_layer"]
    assert activations(fused) == [GELUTanh] * TINY["n_layer"] and activations(stock) == [NewGELUActivation] * 2
    input_ids = torch.randint(0, 50257, (2, 40), generator=torch.Generator().manual_seed(0))
    outputs = [model(input_ids, labels=input_ids) for model in (stock, fused)]
    torch.testing.assert_close(outputs[0].logits, outputs[1].logits, rtol=1e-5, atol=1e-5)
    for output in outputs:
        output.loss.backward()
    for (name, a), (_, b) in zip(stock.named_parameters(), fused.named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_gpt_neo_is_swapped_too():
    model = GPTNeoForCausalLM(GPTNeoConfig(vocab_size=100, hidden_size=16, num_layers=2, num_heads=2,
                                           attention_types=[[["global"], 2]], max_position_embeddings=32))
    assert use_fused_gelu(model) == 2 and use_fused_gelu(model) == 0


def test_training_and_inference_loaders_use_it(tiny_model_dir, runs):
    model_args = ModelArguments(model_name_or_path=tiny_model_dir)
    blocks = base_spec().n_layer
    saved = AutoConfig.from_pretrained(tiny_model_dir)
    assert saved.activation_function == "gelu_new"  # the stock activation on disk: the loader swaps it
    model, _ = load_base_model(model_args.model_name_or_path, model_args)
    assert activations(model) == [GELUTanh] * blocks
    model, _, _ = load_trained_model(runs["lora"], tiny_model_dir)
    assert activations(model) == [GELUTanh] * blocks
