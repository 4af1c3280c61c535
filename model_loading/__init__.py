"""Base models: the one loader every command uses, and getting pretrained models into the plain
`from_pretrained` folder layout it expects (GGUF conversion: `python -m model_loading.gguf`)."""

from .base_model import (
    ModelArguments,
    ModelLoadingArguments,
    base_model_provenance,
    context_window,
    load_base_model,
)
from .kernels import use_fused_gelu

__all__ = ["ModelArguments", "ModelLoadingArguments", "base_model_provenance", "context_window", "load_base_model",
           "use_fused_gelu"]
