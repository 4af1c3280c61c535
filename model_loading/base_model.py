"""The one loader of base models: training (run_summarization.py), reloading a run (summarize.py) and the
benchmark all get the same model, with the same tokenizer padding and the same kernels."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from core import BadInputError

from .kernels import use_fused_gelu


@dataclass
class ModelLoadingArguments:
    """How a model is fetched, whichever model it is (the one trained, or the base of a finished run)."""

    cache_dir: str | None = field(default=None, metadata={"help": "Where downloaded models and data are cached."})
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Allow model code from the Hub to run; only for repositories you trust."}
    )
    attn_implementation: str | None = field(
        default=None,
        metadata={"help": "Attention kernel: 'sdpa' (PyTorch's fused attention; transformers' default where the "
                          "model supports it, e.g. GPT-2), 'eager', or 'flash_attention_2' if installed."},
    )


@dataclass
class ModelArguments(ModelLoadingArguments):
    model_name_or_path: str = field(
        default="gpt2", metadata={"help": "Hub model id or local folder of a causal LM (GPT-2, Llama, Qwen2, ...)."}
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Tokenizer id or folder, if not the model's own."}
    )

    def __post_init__(self):
        if looks_local(self.model_name_or_path) and not os.path.isdir(os.path.expanduser(self.model_name_or_path)):
            raise BadInputError(f"--model_name_or_path {self.model_name_or_path} does not exist; give a local "
                                "model folder or a Hub id")


def context_window(model) -> int | None:
    """Positions the model can attend over (GPT-2's n_positions, Llama's max_position_embeddings), looked up on the
    first transformers model inside `model` (a PEFT or soft-prompt wrapper too); None when the config has neither."""
    from transformers import PreTrainedModel

    inner = model if isinstance(model, PreTrainedModel) else next(
        (m for m in model.modules() if isinstance(m, PreTrainedModel)), None)
    config = getattr(inner, "config", None)
    return getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)


def looks_local(name: str) -> bool:
    """A Hub id has at most one '/'; anything path-shaped names a folder on this machine."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1


def load_base_model(model_name_or_path: str, loading: ModelLoadingArguments | None = None,
                    tokenizer_name: str | None = None, what: str = "model"):
    """(model, tokenizer). Problems the user can fix (a missing folder, no network, a kernel the model does not
    implement) are one-line BadInputErrors that name `what` was being loaded."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loading = loading or ModelLoadingArguments()
    source = tokenizer_name or model_name_or_path
    common = {"cache_dir": loading.cache_dir, "trust_remote_code": loading.trust_remote_code}
    tokenizer = load_or_explain(AutoTokenizer.from_pretrained, source,
                                what if source == model_name_or_path else f"the tokenizer of {what}", **common)
    # fp32 whatever the checkpoint's dtype (transformers 5 would load a bf16 checkpoint, e.g. SmolLM2's on the Hub,
    # in bf16): the weights are the master copy that --bf16 trains under autocast, and a bf16 master copy loses
    # small updates. Generation decodes in these same weights (summary_generation.generate).
    model = load_or_explain(AutoModelForCausalLM.from_pretrained, model_name_or_path, what,
                            attn_implementation=loading.attn_implementation, dtype=torch.float32, **common)
    if tokenizer.eos_token_id is None:
        raise BadInputError(f"the tokenizer of '{source}' has no end-of-sequence token: a summary could never end; "
                            "use a tokenizer that defines eos_token")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is masked by position, so sharing EOS is safe
    use_fused_gelu(model)
    return model, tokenizer


def load_or_explain(from_pretrained, name: str, what: str, **kwargs):
    """`from_pretrained(name, **kwargs)`, its failures a one-line BadInputError naming `what` and `name`."""
    try:
        return from_pretrained(name, **kwargs)
    except ValueError as error:  # e.g. an attention kernel this model does not implement
        raise BadInputError(f"cannot load {what} '{name}': {str(error).splitlines()[0]}") from error
    except OSError as error:
        offline = " (HF_HUB_OFFLINE is set: only local folders and cached models work)" if os.environ.get(
            "HF_HUB_OFFLINE") == "1" else ""
        raise BadInputError(f"cannot load {what} '{name}'{offline}: {str(error).splitlines()[0]}") from error


def base_model_provenance(model_name_or_path: str) -> dict:
    """What a converted base-model folder records about its origin (its Hub id, how it was converted): the model
    card names the real model, never a folder on this machine. {} for anything else."""
    from .gguf import STAMP_NAME  # here, not at the top: `python -m model_loading.gguf` imports it once

    stamp = os.path.join(model_name_or_path, STAMP_NAME)
    if not os.path.isfile(stamp):
        return {}
    with open(stamp) as handle:
        recorded = json.load(handle)
    note = recorded.get("conversion")
    if note and recorded.get("source"):
        note += f" ({recorded['source']})"
    return {"base_model": recorded.get("base_model"), "conversion": note}
