"""The settings a run's summaries are generated with: one object, saved in the run folder as
`generation_config.json` (transformers' own format, so `GenerationConfig.from_pretrained(run_dir)` reads it too)
and read back by summarize.py, so inference decodes exactly as the run's evaluation did."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core import BadInputError, run_folder

CACHES = ("static", "dynamic")
# Our own key in generation_config.json: transformers' `no_repeat_ngram_size` would also ban n-grams of the
# article (see generate.SummaryNoRepeatNGramLogitsProcessor).
NGRAM_KEY = "summary_no_repeat_ngram_size"


@dataclass(frozen=True)
class SummarySettings:
    max_new_tokens: int = 128
    num_beams: int = 4
    no_repeat_ngram_size: int = 3
    length_penalty: float = 1.0
    cache: str = "static"
    eos_token_id: int | None = None
    pad_token_id: int | None = None

    def __post_init__(self):
        if self.max_new_tokens < 1 or self.num_beams < 1:
            raise BadInputError(f"a summary needs max_new_tokens >= 1 and num_beams >= 1 (got {self.max_new_tokens} "
                                f"and {self.num_beams})")
        if self.cache not in CACHES:
            raise BadInputError(f"generation cache '{self.cache}' is not one of: {', '.join(CACHES)}")

    def replace(self, **changes) -> SummarySettings:
        """These settings with `changes` (None values ignored: an override that was not given)."""
        return dataclasses.replace(self, **{key: value for key, value in changes.items() if value is not None})

    def generation_config(self):
        """transformers' GenerationConfig. Greedy or beam search, never sampling: a comparison must be repeatable.
        `disable_compile`: with a static cache on CUDA, transformers would otherwise torch.compile the decoding
        step on its own, recompiling for every new batch shape and keeping CUDA-graph memory during training."""
        from transformers import GenerationConfig

        return GenerationConfig(
            max_new_tokens=self.max_new_tokens, num_beams=self.num_beams, do_sample=False,
            length_penalty=self.length_penalty, early_stopping=self.num_beams > 1, eos_token_id=self.eos_token_id,
            pad_token_id=self.pad_token_id, cache_implementation=self.cache, disable_compile=True,
            **{NGRAM_KEY: self.no_repeat_ngram_size},
        )

    def save(self, run_dir: str) -> None:
        self.generation_config().save_pretrained(run_dir)

    @classmethod
    def from_generation_config(cls, config) -> SummarySettings:
        return cls(max_new_tokens=config.max_new_tokens, num_beams=config.num_beams,
                   no_repeat_ngram_size=getattr(config, NGRAM_KEY, 0) or 0, length_penalty=config.length_penalty,
                   cache=config.cache_implementation or "dynamic", eos_token_id=config.eos_token_id,
                   pad_token_id=config.pad_token_id)

    @classmethod
    def from_run(cls, run_dir: str) -> SummarySettings:
        return cls.from_generation_config(run_folder.read_generation_config(run_dir))
