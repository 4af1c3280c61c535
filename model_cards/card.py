"""A run's `README.md`: Hub metadata (YAML, with a model-index of the test ROUGE) plus what the method is,
what it cost, what it scored next to the baselines, and code that loads it and summarizes."""

from __future__ import annotations

import os

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from core import BadInputError, run_folder
from peft_methods import REGISTRY, Method, method_row

ROUGE = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum"}
# Two training times: tokens/s is measured over the compute time; the wall time adds every evaluation during
# training (with its generated summaries), so it depends on the evaluation settings as much as on the method.
EFFICIENCY = [("train_seconds_excluding_eval", "train compute time, evaluation excluded (s)"),
              ("train_tokens_per_second", "training tokens/s (non-padding, over the compute time)"),
              ("train_runtime", "train wall time, evaluation during training included (s)"),
              ("train_peak_accelerator_memory_mb", "peak accelerator memory, training (MB)"),
              ("train_peak_host_memory_mb", "peak host memory, training (MB)"),
              ("predict_runtime", "test generation time (s)"),
              ("predict_peak_accelerator_memory_mb", "peak accelerator memory, test (MB)"),
              ("predict_peak_host_memory_mb", "peak host memory, test (MB)")]
SET_HERE = {"pad_token_id", "eos_token_id", "summary_no_repeat_ngram_size"}  # not passed through to generate()


def is_local_path(name: str) -> bool:
    """A folder on this machine rather than a Hub id (which has at most one '/' and exists nowhere here)."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.path.isdir(name)


def format_number(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def percent(results: dict, key: str) -> str:
    return "n/a" if results.get(key) is None else f"{100 * results[key]:.2f}"


def eval_results(results: dict, dataset_name: str, dataset_id: str | None = None, dataset_config: str | None = None,
                 split: str = "test") -> list[EvalResult] | None:
    """The model-index: test ROUGE F1 in percent; None without predict scores. The dataset type is a Hub id only
    when the data came from the Hub under that id ("local" otherwise): a card never claims a borrowed dataset."""
    found = [key for key in ROUGE if results.get(f"predict_{key}") is not None]
    return [EvalResult(task_type="summarization", task_name="Summarization", dataset_type=dataset_id or "local",
                       dataset_name=dataset_name, dataset_config=dataset_config, dataset_split=split,
                       metric_type=key, metric_name=ROUGE[key],
                       metric_value=round(100 * results[f"predict_{key}"], 2)) for key in found] or None


def usage_snippet(method: Method, base_model: str, separator: str, generation: dict, max_length: int,
                  repo_id: str | None, prefix: str = "", num_virtual_tokens: int = 0) -> str:
    """Code that loads this run and summarizes `article` the way evaluation did."""
    if method.load_code is None:
        return f"{method.name} needs no model: {method.description}.\n"
    target = repr(repo_id) if repo_id else '"path/to/run_dir"  # this folder, or its Hub repo id'
    kwargs = ", ".join(f"{key}={value!r}" for key, value in generation.items() if key not in SET_HERE)
    ngram = generation.get("summary_no_repeat_ngram_size")
    new_tokens = generation.get("max_new_tokens", 128)
    # A prefix (an instruction, or a chat template's turns up to the article) comes before the article, and a
    # soft prompt's virtual tokens before everything: all take room from the article.
    pre = ["pre = tokenizer(PREFIX, add_special_tokens=False)[\"input_ids\"]"] if prefix else []
    virtual = f" - {num_virtual_tokens}" if num_virtual_tokens else ""
    lines = ["import torch", "from transformers import AutoModelForCausalLM, AutoTokenizer",
             f"BASE = {base_model!r}", f"REPO_OR_DIR = {target}", "tokenizer = AutoTokenizer.from_pretrained(BASE)",
             *([f"PREFIX = {prefix!r}"] if prefix else []), f"SEPARATOR = {separator!r}", method.load_code,
             "model.eval()", "",
             'article = "..."  # the news article to summarize',
             f"# As in evaluation: {'the prefix, ' if prefix else ''}the article (cut to leave room for "
             f"{'the soft prompt and ' if num_virtual_tokens else ''}the summary) + separator tokens.",
             *pre, "sep = tokenizer(SEPARATOR, add_special_tokens=False)[\"input_ids\"]",
             f"budget = {max_length}{virtual}{' - len(pre)' if prefix else ''} - len(sep) - {new_tokens}",
             f"prompt = {'pre + ' if prefix else ''}tokenizer(article, add_special_tokens=False)[\"input_ids\"][:budget]"
             " + sep",
             'ids = {"input_ids": torch.tensor([prompt]), "attention_mask": torch.ones(1, len(prompt), dtype=torch.long)}',
             *([f"# Evaluation also banned repeated {ngram}-grams within the summary only (this project's "
                "SummaryNoRepeatNGramLogitsProcessor); transformers' no_repeat_ngram_size would also forbid "
                "copying from the article."] if ngram else []),
             "with torch.no_grad():",
             f"    out = model.generate(**ids, {kwargs + ', ' if kwargs else ''}pad_token_id=tokenizer.eos_token_id)",
             "# generate returns the prompt ids + the new tokens (PEFT's too, without the virtual tokens)",
             "summary = tokenizer.decode(out[0, ids[\"input_ids\"].shape[1]:], skip_special_tokens=True).strip()",
             "print(summary)"]
    return ("```python\n" + "\n".join(lines) + "\n```\n\nOr with the project's command line (article on stdin):\n\n"
            "```bash\npython summarize.py --run_dir RUN_DIR < article.txt\n```\n")


def build_model_card(results: dict, hyperparameters: dict, base_model: str, dataset_name: str,
                     dataset_id: str | None = None, dataset_config: str | None = None, dataset_location: str | None = None,
                     separator: str = "\nTL;DR:", generation: dict | None = None, baselines: dict | None = None,
                     repo_id: str | None = None, license: str | None = None, prefix: str = "",
                     base_model_note: str | None = None, num_virtual_tokens: int = 0,
                     provenance: dict | None = None) -> ModelCard:
    """`base_model`: a Hub id for the metadata; a local folder (no id known) is named in the text only, since
    the Hub links `base_model` to a repository. `base_model_note`: how the weights were obtained (e.g. dequantized).
    `dataset_name`: the data the run read; `dataset_id`: its Hub id, only when it came from the Hub;
    `dataset_location`: a local path, named in the text only (the metadata is what the Hub indexes)."""
    method = method_row(results["method"])
    if method is None:
        raise BadInputError(f"results of an unknown method {results['method']!r}; known: {', '.join(REGISTRY)}")
    model_name = repo_id or f"{os.path.basename(base_model.rstrip('/'))}-{method.name}-summarization"
    hub_id = None if is_local_path(base_model) else base_model
    data = ModelCardData(
        base_model=hub_id, library_name="peft" if method.peft_type else "transformers",
        pipeline_tag="text-generation", datasets=[dataset_id] if dataset_id else None, metrics=["rouge"],
        license=license, tags=["summarization", *method.tags],
        model_name=model_name, eval_results=eval_results(results, dataset_name, dataset_id, dataset_config),
    )
    hyper = "\n".join(f"| `{key}` | {format_number(value)} |" for key, value in sorted(hyperparameters.items()))
    efficiency = "\n".join(f"| {label} | {format_number(results.get(key))} |" for key, label in EFFICIENCY
                           if key in results)
    no_gpu = any(results.get(key) is None for key in results if "accelerator_memory" in key)
    tests = "\n".join(
        f"| {name} | {percent(results, f'predict_{key}')} | "
        f"[{percent(results, f'predict_{key}_ci_low')}, {percent(results, f'predict_{key}_ci_high')}] |"
        for key, name in ROUGE.items())
    sections = [
        f"# {model_name}\n\n{base_model if hub_id else f'The model in `{base_model}`'} fine-tuned for news "
        f"summarization on {dataset_name}{f' ({dataset_config})' if dataset_config else ''}"
        f"{f' (`{dataset_location}`)' if dataset_location else ''}{data_fingerprints(provenance)}.{f' Base weights: {base_model_note}.' if base_model_note else ''}\n",
        f"## Method\n\n**{method.name}**: {method.description}.\n\nTrainable parameters: "
        f"{format_number(results.get('trainable_params'))} ({format_number(results.get('trainable_percent'))}% of the "
        f"base model's {format_number(results.get('base_params', results.get('total_params')))}).\n",
        f"## Hyperparameters\n\n| name | value |\n|---|---|\n{hyper}\n",
    ]
    if efficiency:
        note = "\nn/a: not measured on this hardware (no GPU was used, so there is no accelerator memory).\n"
        sections.append(f"## Efficiency\n\n| measure | value |\n|---|---|\n{efficiency}\n" + (note if no_gpu else ""))
    if eval_results(results, dataset_name):
        sections.append(f"## Test results\n\nROUGE F1 (%) on the {dataset_name} test split"
                        f" ({format_number(results.get('predict_samples'))} articles), 95% bootstrap interval.\n\n"
                        f"| metric | F1 | 95% interval |\n|---|---|---|\n{tests}\n")
    if baselines:
        rows = "\n".join(f"| {name} | " + " | ".join(percent(scores, f"predict_{key}") for key in ROUGE) + " |"
                         for name, scores in [(f"this model ({method.name})", results), *baselines.items()])
        sections.append("## Baselines\n\nTest ROUGE F1 (%) of the baselines, for context.\n\n"
                        "| model | " + " | ".join(ROUGE.values()) + " |\n|---|---|---|---|---|\n" + rows + "\n")
    before = f"the prefix {prefix!r}, " if prefix else ""
    sections.append(f"## Prompt format\n\nInput: {before}the article's tokens, then the separator {separator!r}; the "
                    "model continues with the summary and an end-of-text token. Only the summary is scored.\n")
    sections.append("## Usage\n\n" + usage_snippet(method, base_model, separator, generation or {},
                                                   hyperparameters.get("max_length") or 512, repo_id, prefix,
                                                   num_virtual_tokens))
    if provenance:
        sections.append(provenance_section(provenance))
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(sections))


def data_fingerprints(provenance: dict | None) -> str:
    """Which examples, exactly: the sampled splits' fingerprints (the same data gives the same digests)."""
    data = (provenance or {}).get("data") or {}
    return f" (data fingerprints: {', '.join(f'{split} `{digest[:12]}`' for split, digest in data.items())})" if data else ""


def provenance_section(provenance: dict) -> str:
    """Enough to tell whether two runs can be compared, and to rerun this one (core.provenance)."""
    git = provenance.get("git") or {}
    commit = f"`{git['commit'][:12]}`{' (uncommitted changes)' if git.get('dirty') else ''}" if git else "unknown"
    device = provenance.get("device") or {}
    machine = device.get("gpu") or f"{device.get('cpu')} ({device.get('cpu_count')} CPUs)"
    packages = ", ".join(f"{name} {version}" for name, version in (provenance.get("packages") or {}).items()
                         if version)
    data = "; ".join(f"{split} `{digest[:12]}`" for split, digest in (provenance.get("data") or {}).items())
    weights = (provenance.get("base_model") or {}).get("weights_sha256", "")
    command = " ".join(provenance.get("command") or [])
    return (f"## Provenance\n\n- command: `{command}`\n- project commit: {commit}\n- machine: {machine}\n"
            f"- packages: {packages}\n- data fingerprints (SHA-256 of the sampled examples): {data}\n"
            f"- base model weights fingerprint: `{weights[:12]}`\n")


def write_model_card(output_dir: str, **kwargs) -> str:
    """Writes `output_dir/README.md` (keyword arguments of `build_model_card`); returns its path."""
    path = os.path.join(output_dir, run_folder.MODEL_CARD)
    build_model_card(**kwargs).save(path)
    return path
