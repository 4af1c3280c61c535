"""Where a run's numbers came from: the exact command, the software, the machine, and fingerprints of the data
it used and of the base model it started from. Written into every run folder (`provenance.json`) and the model
card; the report refuses to rank runs made on different data without saying so.

A fingerprint is a SHA-256: of the sampled examples (id, article, summary, in order) per split, and of the base
model's config and weights (every tensor's name, dtype, shape and bytes, in name order).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess

# Flags whose values are credentials: the recorded command keeps the flag and hides the value, so a provenance file
# or a model card can be shared (and pushed to the Hub) as it is.
SECRET_FLAGS = ("--hub_token",)
REDACTED = "<redacted>"
PACKAGES = ("torch", "transformers", "peft", "datasets", "accelerate", "evaluate", "huggingface_hub", "rouge_score")
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def environment(program: str, argv: list[str]) -> dict:
    return {
        "command": [program, *redact_secrets(argv)],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: package_version(name) for name in PACKAGES},
        "git": git_state(),
        "device": device(),
    }


def redact_secrets(argv: list[str]) -> list[str]:
    """`argv` with the value of every secret flag replaced, in both the `--flag value` and `--flag=value` forms."""
    redacted, hide_next = [], False
    for arg in argv:
        flag = arg.split("=", 1)[0]
        if hide_next:
            redacted.append(REDACTED)
        elif flag in SECRET_FLAGS and "=" in arg:
            redacted.append(f"{flag}={REDACTED}")
        else:
            redacted.append(arg)
        hide_next = not hide_next and arg in SECRET_FLAGS
    return redacted


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_state() -> dict | None:
    """The project's commit and whether the working tree differs from it (None outside a git checkout)."""
    def git(*args):
        return subprocess.run(["git", "-C", REPOSITORY, *args], capture_output=True, text=True, timeout=10)

    try:
        commit = git("rev-parse", "HEAD")
        if commit.returncode != 0:
            return None
        status = git("status", "--porcelain", "--untracked-files=no")
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def device() -> dict:
    import torch

    info = {"cpu": cpu_model(), "cpu_count": os.cpu_count()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    return info


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def data_fingerprint(examples: dict[str, list], columns: tuple[str, ...]) -> str:
    """SHA-256 of the given columns of every example, in order (a split as its columns' lists)."""
    digest = hashlib.sha256()
    for row in zip(*(examples[column] for column in columns), strict=True):
        digest.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def model_fingerprint(model) -> dict:
    """SHA-256 of the config (as a sorted JSON string, without the local path it was loaded from) and of the
    weights: a renamed copy of the same model has the same fingerprint, a single changed weight another."""
    import torch

    # What describes the architecture: not where it was loaded from, nor what saving adds (architectures, dtype:
    # the weights' dtypes are hashed below), nor the library version that wrote it.
    config = {key: value for key, value in model.config.to_dict().items()
              if key not in ("_name_or_path", "architectures", "dtype", "torch_dtype", "transformers_version")}
    config_digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode("utf-8")).hexdigest()
    weights = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        weights.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        weights.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    return {"config_sha256": config_digest, "weights_sha256": weights.hexdigest()}
