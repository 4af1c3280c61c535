"""`TrainingArguments` with the defaults this task wants, so a bare command line does the right thing."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments
from transformers.utils import is_torch_bf16_gpu_available, is_torch_tf32_available

from core.errors import BadInputError
from summary_generation import SummarySettings
from summary_generation.settings import CACHES

logger = logging.getLogger(__name__)


@dataclass
class SummarizationTrainingArguments(TrainingArguments):
    output_dir: str | None = field(
        default=None, metadata={"help": "Run folder: adapter/weights, checkpoints, results, card, plots."}
    )
    # None = not given: with none of the three given, a run does the whole story (run_summarization.py decides,
    # knowing whether the method trains); an explicit --do_eval false also turns evaluation during training off.
    do_train: bool | None = field(default=None, metadata={"help": "Train (default: on when no --do_* flag is given)."})
    do_eval: bool | None = field(
        default=None, metadata={"help": "Evaluate on the validation split (default: on when training evaluates or "
                                        "no --do_* flag is given; false also skips evaluation during training)."})
    do_predict: bool | None = field(
        default=None, metadata={"help": "Summarize and score the test split (default: on when no --do_* flag is given)."})
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Allow writing into a folder that already holds a run (its files are replaced)."}
    )
    early_stopping_patience: int | None = field(
        default=3, metadata={"help": "Stop after this many evaluations without eval_loss improving (None: never)."}
    )
    num_train_epochs: float = field(default=10.0, metadata={"help": "Maximum epochs (early stopping may end sooner)."})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate: 'epoch', 'steps' or 'no'."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to checkpoint; must match eval_strategy."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Checkpoints kept (the best is always kept)."})
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Restore the lowest-eval_loss weights."})
    metric_for_best_model: str | None = field(default="eval_loss", metadata={"help": "Metric choosing the best."})
    # Early stopping's patience count lives in a callback: without this a resumed run forgets how many
    # evaluations had already not improved and trains past the point the uninterrupted run stopped.
    restore_callback_states_from_checkpoint: bool = field(
        default=True, metadata={"help": "On resume, restore callback state (early-stopping patience) too."}
    )
    logging_steps: float = field(default=10, metadata={"help": "Log training loss and throughput every N steps."})
    # SummarizationTrainer counts "non_padding" tokens on the host, from the collator (summarization_training/
    # host_counts.py); Trainer's own count reads the device back every step.
    include_num_input_tokens_seen: str = field(
        default="non_padding", metadata={"help": "Token counting for throughput: 'non_padding', 'all' or 'no'."}
    )
    logging_nan_inf_filter: bool = field(
        default=False,
        metadata={"help": "Replace a NaN/inf training loss by the mean of the logged ones. Off: the check reads the "
                          "loss back from the device after every step, a GPU sync per step (transformers #33693), "
                          "and a NaN loss is better seen than hidden. Gradients are the same either way."},
    )
    # Labels are named explicitly: Trainer guesses label names from the model's forward signature, and behind a
    # PEFT wrapper (forward(*args, **kwargs)) it finds none and reports no eval loss. The extra tokenized
    # columns (prompt ids for generation) must survive until the collator.
    label_names: list[str] | None = field(default_factory=lambda: ["labels"], metadata={"help": "Label keys."})
    remove_unused_columns: bool = field(default=False, metadata={"help": "Keep columns the collator needs."})
    # Evaluation computes the loss only: keeping logits costs batch x length x vocabulary floats per step.
    prediction_loss_only: bool = field(default=True, metadata={"help": "Evaluate loss without keeping logits."})
    summary_logits_only: bool = field(
        default=True,
        metadata={"help": "Run the LM head and the loss only at positions that predict a summary token (the "
                          "same loss, a fraction of the head's FLOPs and memory). false: logits for every "
                          "position, for models whose forward lacks transformers' `logits_to_keep`."},
    )
    # Generation-based evaluation (ROUGE). Defaults suit CNN/DailyMail highlights (~56 tokens on average).
    # On by default: a summarization run that reports losses but no summaries is not what anyone asks for.
    predict_with_generate: bool = field(
        default=True, metadata={"help": "Generate summaries during evaluation/prediction and score them (ROUGE)."}
    )
    eval_generate_samples: int | None = field(
        default=200,
        metadata={"help": "Validation examples summarised for ROUGE at each evaluation (the loss uses all of "
                          "them; generation is the expensive part). None: all; 0: none (loss only). Test "
                          "predictions use every example."},
    )
    generation_max_new_tokens: int = field(default=128, metadata={"help": "Maximum tokens in a summary."})
    generation_batch_size: int | None = field(
        default=None,
        metadata={"help": "Prompts generated together (left-padded, KV cache). Decoding is memory-bound, so larger "
                          "batches give more summaries per second until memory runs out. Default: "
                          "--per_device_eval_batch_size."},
    )
    generation_cache: str = field(
        default="static",
        metadata={"help": "KV cache for generation: 'static' (allocated once per batch) or 'dynamic' (grows by "
                          "concatenation each step).", "choices": list(CACHES)},
    )
    generation_num_beams: int = field(default=4, metadata={"help": "Beam search width (1: greedy)."})
    no_repeat_ngram_size: int = field(
        default=3, metadata={"help": "Forbid repeating an n-gram of this size within a summary (0: off); "
                                     "unlike transformers' flag, copying n-grams from the article stays allowed."}
    )
    length_penalty: float = field(default=1.0, metadata={"help": "Beam score length exponent (>1 favours longer)."})
    # Declared again for its meaning here: Trainer's own Hub integration would upload checkpoints and
    # training_args.bin (which can hold the token) and needs the network from the start, so run_summarization.py
    # turns it off and pushes the finished run folder itself.
    push_to_hub: bool = field(
        default=False, metadata={"help": "Upload the finished run (adapter or weights, model card, results; never "
                                         "checkpoints or training_args.bin) to --hub_model_id."})
    baseline_runs: list[str] | None = field(
        default=None, metadata={"help": "Baseline run folders (zero-shot, lead-3) whose test scores the model card "
                                        "quotes for context."}
    )
    auto_bf16: bool = field(
        default=True,
        metadata={"help": "Train in bf16 mixed precision when the GPU supports it and neither --bf16 nor --fp16 "
                          "is given (fp16's range overflows in GPT-2's activations; bf16 has fp32's range). "
                          "--auto_bf16 false keeps fp32."},
    )

    def __post_init__(self):
        self._reconcile_strategies()
        if self.eval_generate_samples is not None and self.eval_generate_samples < 0:
            raise BadInputError(f"--eval_generate_samples must be 0 or more (got {self.eval_generate_samples})")
        if self.generation_batch_size is not None and self.generation_batch_size < 1:
            raise BadInputError(f"--generation_batch_size must be at least 1 (got {self.generation_batch_size})")
        if self.generation_max_new_tokens < 1 or self.generation_num_beams < 1:
            raise BadInputError("--generation_max_new_tokens and --generation_num_beams must be at least 1")
        if self.push_to_hub and not self.hub_model_id:
            raise BadInputError("--push_to_hub needs --hub_model_id (e.g. your-name/gpt2-lora-cnn-dailymail)")
        if self.auto_bf16 and not (self.bf16 or self.fp16) and not self.use_cpu and is_torch_bf16_gpu_available():
            self.bf16 = True
        if self.tf32 is None and torch.cuda.is_available() and is_torch_tf32_available():
            self.tf32 = True  # fp32 matmuls (fp32 runs, the fp32 loss) on tensor cores; bf16 is unaffected
        if not torch.cuda.is_available():
            self.dataloader_pin_memory = False  # pinning without a GPU only prints a warning
        super().__post_init__()

    def _reconcile_strategies(self) -> None:
        """Defaults that only make sense together (early stopping and best-model loading need evaluations and
        checkpoints) are switched off, with a notice, when the user turns off what they depend on; transformers
        would otherwise stop with an assertion or a multi-line ValueError."""
        if self.do_eval is False and self.do_train and self.eval_strategy != "no":
            logger.warning("--do_eval false: no evaluation during training either (--eval_strategy no)")
            self.eval_strategy = "no"
        if self.eval_strategy == "no" and (self.early_stopping_patience is not None or self.load_best_model_at_end):
            if self.do_train:
                logger.warning("--eval_strategy no: nothing to stop early on or to pick the best checkpoint by; "
                               "early stopping and --load_best_model_at_end are off")
            self.early_stopping_patience, self.load_best_model_at_end = None, False
        if self.save_strategy == "no" and self.load_best_model_at_end:
            if self.do_train:
                logger.warning("--save_strategy no: no checkpoint to restore the best weights from; "
                               "--load_best_model_at_end is off (the last weights are kept)")
            self.load_best_model_at_end = False

    def summary_settings(self, tokenizer) -> SummarySettings:
        """How this run generates its summaries (saved in the run folder as generation_config.json)."""
        return SummarySettings(
            max_new_tokens=self.generation_max_new_tokens, num_beams=self.generation_num_beams,
            no_repeat_ngram_size=self.no_repeat_ngram_size, length_penalty=self.length_penalty,
            cache=self.generation_cache, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        )
