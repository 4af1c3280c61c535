"""Load a finished run folder of any method back into a model that can `generate`.

The method is recognised from the files the method's `save` wrote, so a run folder is self-describing:
PEFT's `adapter_config.json` (prompt tuning or LoRA), our `method_config.json` (head, zero-shot), or a
complete transformers model (full).
"""

from __future__ import annotations

import json
import os

from transformers import AutoModelForCausalLM, AutoTokenizer

from summarization_data.errors import BadInputError
from summarization_training.kernels import use_fused_gelu

from .base import METHOD_CONFIG_NAME, read_method_config
from .head import HeadConfig, build_head_model, load_head_weights
from .soft_prompt import SoftPromptModel


def detect_method(run_dir: str) -> tuple[str, str | None]:
    """(method, base model recorded in the run) from the files in `run_dir`."""
    adapter_config = os.path.join(run_dir, "adapter_config.json")
    if os.path.isfile(adapter_config):
        with open(adapter_config) as handle:
            config = json.load(handle)
        method = {"PROMPT_TUNING": "prompt", "LORA": "lora"}.get(config.get("peft_type"))
        if method is None:
            raise BadInputError(f"{adapter_config}: unsupported PEFT type {config.get('peft_type')}")
        return method, config.get("base_model_name_or_path")
    if os.path.isfile(os.path.join(run_dir, METHOD_CONFIG_NAME)):
        config = read_method_config(run_dir)
        return config["method"], config.get("base_model_name_or_path")
    if os.path.isfile(os.path.join(run_dir, "config.json")):
        return "full", run_dir
    raise BadInputError(
        f"{run_dir} is not a run folder: no adapter_config.json, {METHOD_CONFIG_NAME} or config.json in it"
    )


def load_trained_model(run_dir: str, base_model_name_or_path: str | None = None):
    """(model, tokenizer, method) for the run in `run_dir`; `base_model_name_or_path` overrides the recorded
    base (adapters record the path they were trained from, which may not exist on this machine)."""
    if not os.path.isdir(run_dir):
        raise BadInputError(f"run folder {run_dir} does not exist")
    method, recorded_base = detect_method(run_dir)
    base_name = run_dir if method == "full" else (base_model_name_or_path or recorded_base)
    if base_name is None:
        raise BadInputError(f"{run_dir} does not record its base model; pass --base_model")
    try:
        base = AutoModelForCausalLM.from_pretrained(base_name)
    except OSError as error:
        raise BadInputError(f"cannot load base model '{base_name}' for {run_dir}; pass --base_model "
                            f"({str(error).splitlines()[0]})") from error
    use_fused_gelu(base)  # as in training (run_summarization.load_model_and_tokenizer)
    if method == "prompt":
        model = SoftPromptModel.from_pretrained(base, run_dir)
    elif method == "lora":
        from peft import PeftModel

        model = PeftModel.from_pretrained(base, run_dir)
    elif method == "head":
        saved = read_method_config(run_dir)
        model = build_head_model(base, HeadConfig(saved["unfreeze_last_n_blocks"], saved["untie_lm_head"]))
        load_head_weights(model, run_dir)
    else:  # full, zero-shot: the model itself
        model = base
    has_tokenizer = os.path.isfile(os.path.join(run_dir, "tokenizer_config.json"))
    tokenizer = AutoTokenizer.from_pretrained(run_dir if has_tokenizer else base_name)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer, method
