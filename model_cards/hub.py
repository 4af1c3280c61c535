"""Push a run folder to the Hugging Face Hub: what the run produced (adapter or weights, card, results), never
checkpoints, optimizer states, TensorBoard logs or `training_args.bin` (a pickle that can hold a Hub token)."""

from __future__ import annotations

import os

from huggingface_hub import HfApi
from huggingface_hub.utils import filter_repo_objects

from core import BadInputError, run_folder
from peft_methods import Method
from peft_methods.loading import detect_method

# "*/*": nothing from subfolders (checkpoint-*/, runs/, .cache/); pickles never (training_args.bin, optimizer.pt).
IGNORE_PATTERNS = ["*/*", "checkpoint-*", "runs", "training_args.bin", "*.bin", "*.pt", "*.pth", "*.pkl", ".*"]
BASE_WEIGHTS = {"model.safetensors", "pytorch_model.bin", "model.safetensors.index.json"}


def run_method(run_dir: str) -> Method | None:
    try:
        return detect_method(run_dir)[0]
    except BadInputError:  # not a model's run: only the files every run folder holds can go
        return None


def upload_patterns(run_dir: str) -> list[str]:
    """What every run folder holds (card, results, predictions, prompt format, tokenizer) plus the files its
    method saves (an adapter, a head, or for full fine-tuning the whole model)."""
    method = run_method(run_dir)
    return run_folder.SHARED_FILES + list(method.saved_files if method else ())


def files_to_upload(run_dir: str) -> list[str]:
    """Relative paths (sorted, '/'-separated) that `push_run_to_hub` uploads, by the same patterns it passes."""
    paths = [os.path.relpath(os.path.join(root, name), run_dir).replace(os.sep, "/")
             for root, _, names in os.walk(run_dir) for name in names]
    files = sorted(filter_repo_objects(paths, allow_patterns=upload_patterns(run_dir),
                                       ignore_patterns=IGNORE_PATTERNS))
    # A safeguard behind the patterns: a run that trains an adapter or a head never ships the base model.
    method = run_method(run_dir)
    if method is not None and not method.run_is_model and BASE_WEIGHTS & set(files):
        raise BadInputError(f"{run_dir}: refusing to upload base-model weights {sorted(BASE_WEIGHTS & set(files))} "
                            "for a run that trains only an adapter/head")
    return files


def push_run_to_hub(run_dir: str, repo_id: str, token: str | None = None, private: bool = False,
                    commit_message: str = "Upload summarization run", api: HfApi | None = None) -> str:
    """Creates `repo_id` if needed and uploads `files_to_upload(run_dir)`; returns the repo URL.

    Reads the local folder only. `token` (else the logged-in one / HF_TOKEN) goes to the Hub calls, nowhere else.
    """
    if not os.path.isdir(run_dir):
        raise BadInputError(f"cannot push {run_dir}: no such run folder")
    files = files_to_upload(run_dir)
    if not files:
        raise BadInputError(f"cannot push {run_dir}: it holds no run outputs (README.md, *results.json, weights)")
    api = api or HfApi()
    try:
        url = api.create_repo(repo_id, exist_ok=True, private=private, token=token)
        api.upload_folder(folder_path=run_dir, repo_id=repo_id, commit_message=commit_message, token=token,
                          allow_patterns=upload_patterns(run_dir), ignore_patterns=IGNORE_PATTERNS)
    except Exception as error:  # offline, no network, auth, quota: all the user's to fix
        reason = " ".join(str(error).split())[:160] or "no details"
        if token:
            reason = reason.replace(token, "***")
        raise BadInputError(
            f"push to the Hub failed ({type(error).__name__}: {reason}); nothing local was changed: the run is in "
            f"{run_dir}; retry with push_run_to_hub({run_dir!r}, {repo_id!r}) once online and logged in "
            "(`hf auth login` or HF_TOKEN)"
        ) from None
    return str(getattr(url, "url", None) or url or f"https://huggingface.co/{repo_id}")
