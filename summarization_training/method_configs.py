"""configs/<method>.yaml, written from the registry: the assignment's setting (the same for every method) and what
the method's row holds (its learning rate, its flags' defaults). To change a method's default, change its row and
run `python -m summarization_training.method_configs`; tests/test_cli.py fails while a file differs from this."""

from __future__ import annotations

import yaml

from core.config_files import config_path
from peft_methods import RUNNABLE, Method

# The assignment: GPT-2 small on a seeded 10% sample of CNN/DailyMail, 512 tokens, up to 10 epochs with early stopping.
ASSIGNMENT = {
    "model_name_or_path": "gpt2", "data_dir": "cnn_dailymail", "output_dir": "runs/{name}",
    "max_train_samples": 21000, "max_eval_samples": 6000, "max_predict_samples": 3000, "max_length": 512,
    "predict_with_generate": True, "generation_max_new_tokens": 128, "generation_num_beams": 4,
    "num_train_epochs": 10, "early_stopping_patience": 3, "max_grad_norm": 1.0, "lr_scheduler_type": "linear",
    "weight_decay": 0.0, "per_device_train_batch_size": 32, "per_device_eval_batch_size": 32, "seed": 42,
    "data_seed": 42, "logging_steps": 50,
}
# What a baseline keeps: it scores the same test sample with the same generation settings, and trains nothing.
PREDICTION_KEYS = ("model_name_or_path", "data_dir", "output_dir", "max_predict_samples", "max_length",
                   "predict_with_generate", "generation_max_new_tokens", "generation_num_beams",
                   "per_device_eval_batch_size", "seed", "data_seed")

TRAINED_HEADER = """\
# Written by `python -m summarization_training.method_configs` from the registry's "{name}" row: edit the row.
# The assignment's setting for the "{name}" method: GPT-2 small on a 10% sample of CNN/DailyMail
# (Kaggle CSVs in ./cnn_dailymail), 512 tokens, up to 10 epochs with early stopping on eval_loss.
# Run: accelerate launch run_summarization.py --method {name}   (this file is the default config of --method {name};
#      any flag overrides it: ... --method {name} --num_train_epochs 3, or run_summarization.py configs/{name}.yaml --flag value)
# No --do_* key: the run trains, evaluates on validation and predicts the test split with ROUGE.
"""
BASELINE_HEADER = """\
# Written by `python -m summarization_training.method_configs` from the registry's "{name}" row: edit the row.
# The {name} baseline of the assignment: untuned GPT-2 small, the same prompt format and generation settings,
# scored on the same seeded 3,000-article test sample as the methods' configs.
# Run: python run_summarization.py --method {name}   (flags override, e.g. --model_name_or_path gpt2-medium)
"""


def config_text(row: Method) -> str:
    keys = ASSIGNMENT if row.trains else PREDICTION_KEYS
    values = {"method": row.name, **{key: ASSIGNMENT[key] for key in keys}}
    values["output_dir"] = values["output_dir"].format(name=row.name)
    header = (TRAINED_HEADER if row.trains else BASELINE_HEADER).format(name=row.name)
    own = row.defaults
    lines = [yaml.safe_dump({key: value}, sort_keys=False).strip() for key, value in values.items()]
    if own:
        lines.append(f"# The row's own defaults: {', '.join(own)}")
        lines += [yaml.safe_dump({key: value}, sort_keys=False).strip() for key, value in own.items()]
    return header + "\n".join(lines) + "\n"


def main() -> None:
    for row in RUNNABLE.values():
        with open(config_path(row.name), "w", encoding="utf-8") as handle:
            handle.write(config_text(row))
        print(config_path(row.name))


if __name__ == "__main__":
    main()
