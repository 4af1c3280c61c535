# Copyright 2020 The HuggingFace Evaluate Authors and the current project.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Offline ROUGE metric (rouge1/rouge2/rougeL/rougeLsum) with exact means and bootstrap intervals.

Same structure as the Hub's ``evaluate-metric/rouge`` script, but loadable from a local path with no
network access (no Hub download, no nltk ``punkt`` data):

    import evaluate
    rouge = evaluate.load("/path/to/metrics/rouge")
"""

from __future__ import annotations

import contextlib

import datasets
import evaluate
import numpy as np
from rouge_score import rouge_scorer, scoring

# evaluate copies files imported relatively next to the script in its module cache.
from .sentences import split_sentences

_CITATION = """\
@inproceedings{lin-2004-rouge,
    title = "{ROUGE}: A Package for Automatic Evaluation of Summaries",
    author = "Lin, Chin-Yew",
    booktitle = "Text Summarization Branches Out",
    month = jul,
    year = "2004",
    address = "Barcelona, Spain",
    publisher = "Association for Computational Linguistics",
    url = "https://www.aclweb.org/anthology/W04-1013",
    pages = "74--81",
}
"""

_DESCRIPTION = """\
ROUGE, or Recall-Oriented Understudy for Gisting Evaluation, is a set of metrics for evaluating
automatic summarization and machine translation.  It compares a generated summary against a reference.

This module wraps Google's ``rouge_score`` package (``RougeScorer`` with rouge1, rouge2, rougeL and
rougeLsum; Porter stemming on by default).  ``rougeL`` is sentence-level LCS over the whole text, ignoring
newlines; ``rougeLsum`` is summary-level LCS over sentences separated by newlines.  Before scoring, every
prediction and reference is rewritten one sentence per line: text that already contains newlines (such
as CNN/DailyMail highlights) is split on the newlines, other text with a rule-based sentence splitter that
needs no downloads.  Splitting only affects ``rougeLsum``.

Unlike the Hub script, the aggregated score ``T`` is the exact mean F1 over examples (not the median of
bootstrap means), and the 95% bootstrap confidence interval of the mean F1 is reported alongside it.
"""

_KWARGS_DESCRIPTION = """
Computes ROUGE scores of predictions against references.
Args:
    predictions (list of str): generated summaries, one per example.  Empty strings are allowed and
        score 0.
    references (list of str): one reference summary per prediction.
    use_stemmer (bool): apply the Porter stemmer to strip word suffixes.  Defaults to True.
    use_aggregator (bool): if True (default), return corpus-level numbers; if False, return per-example
        F1 lists.
    n_bootstrap (int): number of bootstrap resamples for the confidence intervals.  Defaults to 1000.
    seed (int or None): seed of the bootstrap resampling, so results are reproducible; numpy's global
        random state is restored afterwards.  None uses (and advances) the global state.  Defaults to 0.
Returns:
    With use_aggregator=True, a flat dict of floats in [0, 1]; for each T in rouge1, rouge2, rougeL,
    rougeLsum:
        T:            mean F1 over examples,
        T_precision:  mean precision over examples,
        T_recall:     mean recall over examples,
        T_ci_low:     2.5th percentile of the bootstrap distribution of the mean F1,
        T_ci_high:    97.5th percentile of the bootstrap distribution of the mean F1.
    With use_aggregator=False, a dict mapping each T to a list of per-example F1 scores.
Examples:
    >>> rouge = evaluate.load("metrics/rouge")
    >>> results = rouge.compute(predictions=["hello there"], references=["hello there"])
    >>> print(results["rouge1"], results["rougeLsum_ci_low"])
    1.0 1.0
"""

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
CONFIDENCE_INTERVAL = 0.95


def _one_sentence_per_line(text: str | None) -> str:
    return "\n".join(split_sentences(text))


@contextlib.contextmanager
def _seeded_global_numpy_rng(seed: int):
    """Seed numpy's global RNG (used by ``rouge_score.scoring.BootstrapAggregator``), then restore it."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Rouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string", id="sequence"),
                    "references": datasets.Value("string", id="sequence"),
                }
            ),
            codebase_urls=["https://github.com/google-research/google-research/tree/master/rouge"],
            reference_urls=[
                "https://en.wikipedia.org/wiki/ROUGE_(metric)",
                "https://github.com/google-research/google-research/tree/master/rouge",
            ],
        )

    def _compute(
        self,
        predictions,
        references,
        use_stemmer: bool = True,
        use_aggregator: bool = True,
        n_bootstrap: int = 1000,
        seed: int | None = 0,
    ):
        predictions = list(predictions)
        references = list(references)
        if len(predictions) != len(references):
            raise ValueError(
                f"ROUGE needs one reference per prediction, got {len(predictions)} predictions and "
                f"{len(references)} references."
            )
        if not predictions:
            raise ValueError("ROUGE needs at least one prediction/reference pair, got none.")
        if int(n_bootstrap) <= 0:
            raise ValueError(f"n_bootstrap must be a positive integer, got {n_bootstrap!r}.")

        scorer = rouge_scorer.RougeScorer(rouge_types=list(ROUGE_TYPES), use_stemmer=use_stemmer)
        scores = [
            scorer.score(_one_sentence_per_line(ref), _one_sentence_per_line(pred))
            for ref, pred in zip(references, predictions, strict=True)
        ]

        if not use_aggregator:
            return {t: [float(s[t].fmeasure) for s in scores] for t in ROUGE_TYPES}

        aggregator = scoring.BootstrapAggregator(
            confidence_interval=CONFIDENCE_INTERVAL, n_samples=int(n_bootstrap)
        )
        for score in scores:
            aggregator.add_scores(score)
        if seed is None:
            intervals = aggregator.aggregate()
        else:
            with _seeded_global_numpy_rng(int(seed)):
                intervals = aggregator.aggregate()

        result = {}
        for t in ROUGE_TYPES:
            result[t] = float(np.mean([s[t].fmeasure for s in scores]))
            result[f"{t}_precision"] = float(np.mean([s[t].precision for s in scores]))
            result[f"{t}_recall"] = float(np.mean([s[t].recall for s in scores]))
            result[f"{t}_ci_low"] = float(intervals[t].low.fmeasure)
            result[f"{t}_ci_high"] = float(intervals[t].high.fmeasure)
        return result
