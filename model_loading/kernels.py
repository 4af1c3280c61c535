"""Faster kernels for the same mathematics, applied wherever a base model is loaded (training and inference).

GPT-2's activation ("gelu_new") is the tanh approximation of GELU written as five elementwise PyTorch ops,
each a pass over a batch x length x 3,072 tensor, forward and backward. `torch.nn.functional.gelu(x,
approximate="tanh")` computes the same function in one fused kernel (equal up to float rounding).
Measured with GPT-2 small's shape on 2 CPU cores: a 2 x 512 training step 5.2 s -> 4.1 s.

The swap is by module type, so models with another activation (Llama's and Qwen2's SiLU, GPT-NeoX's exact
GELU) have nothing to replace and are left exactly as they are.
"""

from __future__ import annotations

from torch import nn
from transformers.activations import GELUTanh, NewGELUActivation


def use_fused_gelu(model: nn.Module) -> int:
    """Replace every `NewGELUActivation` module by the fused `GELUTanh`; returns how many were replaced."""
    replaced = 0
    for parent in model.modules():
        for name, child in parent.named_children():
            if type(child) is NewGELUActivation:
                setattr(parent, name, GELUTanh())
                replaced += 1
    return replaced
