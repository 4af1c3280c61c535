"""Mutation testing: break one line on purpose, and check that a test notices.

    python -m tools.mutation_testing                 # every mutation (a few minutes each at most)
    python -m tools.mutation_testing --only ci-level eos-cut
    python -m tools.mutation_testing --list

Each mutation below is a one-line change to a key behaviour of the pipeline: the file, the exact original text,
what replaces it, and the tests that should catch it. For each one the repository (the files git would commit:
tracked plus untracked-but-not-ignored, never .venv) is copied into a temporary folder, the change is applied
there, and the named tests run there with the project's venv python (offline, `-x -q`). A failing test KILLS the
mutation; if they all pass it SURVIVED, and the suite has a hole: write a test of the behaviour (not of the line).
Exit code 1 if any mutation survived, 2 if the tool itself could not do its job.

The original text must occur exactly once in its file, otherwise the tool stops before running anything: a
refactor that moves or rewrites a line is noticed here, and the mutation is updated with it. Before the
mutations, the named tests run once on the unchanged copy: a test that already fails would kill everything.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from core import one_line_errors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1"}


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str  # relative to the repository root
    original: str  # must occur exactly once in `file`
    replacement: str
    tests: tuple[str, ...]  # pytest node ids (files or file::test) that must fail once the change is applied
    breaks: str  # the behaviour the change breaks, in words


MUTATIONS = [
    Mutation(
        "min-article-tokens", "summarization_data/tokenization.py",
        "if budget < prompt_format.min_article_tokens:", "if budget < 1:",
        ("tests/test_tokenization.py::test_min_article_tokens_is_the_boundary_of_what_is_kept",),
        "an example is kept while its article budget is at least 1 token instead of --min_article_tokens"),
    Mutation(
        "soft-prompt-int-logits-to-keep", "peft_methods/soft_prompt.py",
        'return logits_to_keep  # "the last k positions" is unchanged by a prefix',
        "return logits_to_keep + self.num_virtual_tokens",
        ("tests/test_methods.py::test_soft_prompt_logits_to_keep_selects_the_callers_positions",),
        "an integer logits_to_keep (the last k positions) is shifted by the virtual tokens: k + v logits come back"),
    Mutation(
        "soft-prompt-index-logits-to-keep", "peft_methods/soft_prompt.py",
        "return logits_to_keep + self.num_virtual_tokens", "return logits_to_keep",
        ("tests/test_methods.py::test_soft_prompt_logits_to_keep_selects_the_callers_positions",),
        "positions given as an index tensor are not shifted past the virtual tokens"),
    Mutation(
        "ci-level", "metrics/rouge/rouge.py",
        "CONFIDENCE_INTERVAL = 0.95", "CONFIDENCE_INTERVAL = 0.5",
        ("tests/test_rouge_metric.py::test_confidence_interval_is_a_95_percent_percentile_bootstrap",),
        "the reported interval is a 50% interval, not a 95% one"),
    Mutation(
        "gen-len-off-by-one", "summary_generation/generate.py",
        "return torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1), width).tolist()",
        "return torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1) + 1, width).tolist()",
        ("tests/test_eos_stub.py",),
        "gen_len counts the EOS: one token too long for every summary that stopped"),
    Mutation(
        "summarize-max-new-tokens-budget", "summarize.py",
        "prompt_format = dataclasses.replace(prompt_format, max_new_tokens=settings.max_new_tokens,",
        "prompt_format = dataclasses.replace(prompt_format, max_new_tokens=prompt_format.max_new_tokens,",
        ("tests/test_summarize.py::test_max_new_tokens_changes_the_article_budget_of_a_full_run",),
        "summarize.py --max_new_tokens changes the summary length but not the article cut (prompt + summary may "
        "exceed the run's max_length)"),
    Mutation(
        "separator-labels", "summarization_data/tokenization.py",
        'out["labels"].append([IGNORE_INDEX] * len(prompt) + summary + [eos])',
        'out["labels"].append([IGNORE_INDEX] * (len(prompt) - len(separator_ids)) + separator_ids + summary + [eos])',
        ("tests/test_tokenization.py",),
        "the separator carries loss: the model is trained to reproduce the prompt format"),
    Mutation(
        "padding-by-token-id", "summarization_data/collator.py",
        '"labels": pad_sequences([f["labels"] for f in features], IGNORE_INDEX, "right"),',
        '"labels": pad_sequences([[IGNORE_INDEX if t == self.pad_token_id else t for t in f["labels"]] '
        'for f in features], IGNORE_INDEX, "right"),',
        ("tests/test_tokenization.py",),
        "labels are masked by token id: with GPT-2 (pad = EOS) the model never learns to stop"),
    Mutation(
        "summary-positions-unshifted", "summarization_training/trainer.py",
        "next_labels = nn.functional.pad(labels[:, 1:], (0, 1), value=IGNORE_INDEX)", "next_labels = labels",
        ("tests/test_summary_logits.py::test_only_summary_positions_reach_the_head",),
        "the head runs at the summary tokens' own positions instead of the positions that predict them"),
    Mutation(
        "eos-cut", "summary_generation/generate.py",
        "for row, n in zip(tokens.tolist(), lengths)]", "for row, n in zip(tokens.tolist(), [None] * len(tokens))]",
        ("tests/test_eos_stub.py",),
        "decoded summaries are not cut at the first EOS: whatever follows it is decoded too"),
    Mutation(
        "decode-under-autocast", "summary_generation/generate.py",
        "        model.forward = original", "        model.forward = wrapped",
        ("tests/test_model_families.py::test_bf16_trains_evaluates_and_generates_what_fp32_weights_generate",),
        "under --bf16, summaries are decoded inside accelerate's autocast wrapper: the static KV cache crashes on "
        "rotary models and plain models decode differently from PEFT models"),
    Mutation(
        "rouge-median", "metrics/rouge/rouge.py",
        "result[t] = float(np.mean([s[t].fmeasure for s in scores]))",
        "result[t] = float(np.median([s[t].fmeasure for s in scores]))",
        ("tests/test_rouge_metric.py",),
        "the corpus ROUGE F1 is the median over examples, not the mean"),
    Mutation(
        "soft-prompt-attention", "peft_methods/soft_prompt.py",
        "ones = attention_mask.new_ones(batch_size, self.num_virtual_tokens)",
        "ones = attention_mask.new_zeros(batch_size, self.num_virtual_tokens)",
        ("tests/test_methods.py",),
        "the soft prompt is masked out of attention whenever an attention mask is given"),
    Mutation(
        "head-not-untied", "peft_methods/head.py",
        "        untie_lm_head(base_model)", "        pass",
        ("tests/test_methods.py",),
        "the head method trains the tied matrix: every input embedding changes too"),
    Mutation(
        "eval-loss-mean-of-batch-means", "summarization_training/trainer.py",
        "if per_example_nll and output.predictions is not None:", "if False:",
        ("tests/test_summary_logits.py::test_evaluation_loss_is_token_weighted_over_the_split_whatever_the_batching",),
        "the evaluation loss is Trainer's mean of batch means, which depends on the batching"),
    Mutation(
        "card-budget-ignores-soft-prompt", "model_cards/card.py",
        'virtual = f" - {num_virtual_tokens}" if num_virtual_tokens else ""', 'virtual = ""',
        ("tests/test_model_cards.py::test_prompt_tuning_snippet_cuts_a_long_article_as_the_pipeline_does",),
        "the model card's code leaves no room for the soft prompt: its prompt is longer than the pipeline's"),
    Mutation(
        "head-mismatch-accepted", "peft_methods/head.py",
        'if unexpected or saved["untie_lm_head"] != model.head_config.untie_lm_head:', "if False:",
        ("tests/test_bad_input.py",),
        "head weights saved for other settings load silently (the rest keeps its random or base values)"),
    Mutation(
        "soft-prompt-shape-unchecked", "peft_methods/soft_prompt.py",
        "if saved.shape != self.prompt_embeddings.shape:", "if False:",
        ("tests/test_bad_input.py",),
        "a soft prompt of another length is a RuntimeError with a traceback, not a one-line error"),
    Mutation(
        "other-methods-flags-accepted", "summarization_training/command_line.py",
        "        if flag not in method.flags:", "        if False:",
        ("tests/test_cli_errors.py::test_a_flag_of_another_method_is_refused_with_the_method_it_belongs_to",),
        "a flag of another method (--method head --lora_r 8) is parsed and silently unused"),
    Mutation(
        "token-count-syncs", "summarization_training/host_counts.py",
        'self.state.num_input_tokens_seen += counts["non_padding_tokens"]',
        "return super()._track_num_input_tokens(inputs)",
        ("tests/test_step_overhead.py::test_training_steps_after_the_first_never_read_the_device",),
        "training tokens are counted by Trainer on the device: a gather and an .item() (a CUDA sync) every step"),
    Mutation(
        "summary-positions-boolean-mask", "summarization_training/trainer.py",
        "    if width is None:\n        return keep, next_labels[keep]", "    if True:\n        return keep, next_labels[keep]",
        ("tests/test_step_overhead.py::test_training_steps_after_the_first_never_read_the_device",),
        "the training loss selects summary positions with a boolean mask: a data-dependent shape, a sync every step"),
    Mutation(
        "tokenizer-without-eos", "model_loading/base_model.py",
        "if tokenizer.eos_token_id is None:", "if False:",
        ("tests/test_bad_input.py",),
        "a tokenizer without EOS is accepted: a summary could never end"),
    Mutation(
        "card-borrows-dataset-name", "model_cards/card.py",
        'datasets=[dataset_id] if dataset_id else None', 'datasets=[dataset_name] if dataset_name else None',
        ("tests/test_sources.py::test_a_card_from_csvs_names_their_folder_and_no_borrowed_dataset",),
        "a card's metadata names local data as if it were a Hub dataset"),
    Mutation(
        "config-data-kept-beside-command-line-data", "summarization_training/command_line.py",
        "replaced = CSV_FLAGS if set(given) & set(DATASET_FLAGS) else DATASET_FLAGS if given else ()",
        "replaced = DATASET_FLAGS if given else ()",
        ("tests/test_sources.py::test_a_run_and_a_lead_baseline_read_a_dataset_folder_and_the_card_names_it",),
        "--dataset_name on the command line does not replace the method config's CSV folder"),
    Mutation(
        "comparison-keeps-rows-whose-inputs-changed", "comparison/resume.py",
        "if fresh or recorded != inputs:", "if fresh or recorded is None:",
        ("tests/test_comparison_resume.py",),
        "a rerun keeps a finished row although its command, data or base model changed"),
    Mutation(
        "validation-summaries-generated-twice", "summarization_training/trainer.py",
        'if prefix == "eval" and self._last_generated is not None and self._last_generated[0] == key:',
        "if False:",
        ("tests/test_cli.py::test_validation_summaries_are_generated_once_per_weights",),
        "the evaluation after training generates the validation summaries the last evaluation already generated"),
    Mutation(
        "entities-checked-against-the-summary", "metrics/faithfulness.py",
        "unsupported = [written for written, words in summary.entities if not contains(article, words)]",
        "unsupported = [written for written, words in summary.entities if not contains(summary, words)]",
        ("tests/test_faithfulness.py::test_entities_and_numbers_against_the_article_and_the_reference",
         "tests/test_faithfulness.py::test_report_section_equals_an_independent_recount"),
        "a summary's entities are looked up in the summary itself, so an invented name counts as supported"),
    Mutation(
        "fragments-take-the-first-match", "metrics/faithfulness.py",
        "longest = max(longest, i_end - i)", "longest = longest or i_end - i",
        ("tests/test_faithfulness.py::test_fragments_take_the_longest_match_anywhere_in_the_article",),
        "an extractive fragment is the first shared run found in the article, not the longest (Grusky et al.)"),
    Mutation(
        "summarize-cuts-to-the-training-length", "summarize.py",
        "max_length=args.max_length or window or prompt_format.max_length)",
        "max_length=args.max_length or prompt_format.max_length)",
        ("tests/test_summarize.py::test_articles_are_read_whole_up_to_the_models_context",),
        "summarize.py cuts a user's article to the run's training length instead of reading it up to the model's "
        "context"),
    Mutation(
        "cut-articles-not-counted", "summarization_data/tokenization.py",
        'out["article_tokens_cut"].append(max(0, len(article) - generation_budget))',
        'out["article_tokens_cut"].append(0)',
        ("tests/test_tokenization.py::test_article_is_truncated_never_the_summary_and_soft_prompt_is_budgeted",),
        "test articles cut to fit the generation prompt are not counted (all_results says every article was read)"),
]


class MutationError(RuntimeError):
    """The tool cannot do its job (a mutation no longer matches the code, a test id is wrong)."""


def repository_files(root: str) -> list[str]:
    """What git would commit: tracked files and untracked ones not ignored (new tests not yet added)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root,
                            check=True, capture_output=True).stdout.decode()
    return sorted(path for path in set(listed.split("\0")) if path and os.path.isfile(os.path.join(root, path)))


def copy_repository(root: str, destination: str, files: list[str]) -> None:
    for path in files:
        target = os.path.join(destination, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(root, path), target)


def check(mutation: Mutation, root: str) -> None:
    """The original text is in its file exactly once, and the test files exist."""
    path = os.path.join(root, mutation.file)
    if not os.path.isfile(path):
        raise MutationError(f"{mutation.name}: {mutation.file} does not exist")
    with open(path, encoding="utf-8") as handle:
        found = handle.read().count(mutation.original)
    if found != 1:
        raise MutationError(f"{mutation.name}: the original text occurs {found} times in {mutation.file} (must be "
                            f"exactly once; was the code changed?): {mutation.original!r}")
    for test in mutation.tests:
        if not os.path.isfile(os.path.join(root, test.split("::")[0])):
            raise MutationError(f"{mutation.name}: test file {test.split('::')[0]} does not exist")


def apply(mutation: Mutation, tree: str) -> None:
    path = os.path.join(tree, mutation.file)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text.replace(mutation.original, mutation.replacement, 1))


def run_tests(tree: str, tests: list[str], python: str, timeout: float) -> tuple[int | None, float, str]:
    """(pytest's exit code or None on timeout, seconds, the output's tail) for `tests` run inside `tree`."""
    env = {**os.environ, **OFFLINE, "PYTHONPATH": tree, "PYTHONDONTWRITEBYTECODE": "1",
           # Caches keyed by content hashes could hand back results computed by unmutated code: keep them private.
           "HF_DATASETS_CACHE": os.path.join(tree, ".cache", "datasets"),
           "HF_MODULES_CACHE": os.path.join(tree, ".cache", "modules")}
    command = [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    start = time.monotonic()
    try:
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        out = expired.stdout.decode(errors="replace") if isinstance(expired.stdout, bytes) else expired.stdout or ""
        return None, time.monotonic() - start, out[-2000:]
    return done.returncode, time.monotonic() - start, (done.stdout + done.stderr)[-2000:]


def in_fresh_copy(root: str, files: list[str], work: str, label: str) -> str:
    tree = os.path.join(work, label)
    copy_repository(root, tree, files)
    return tree


def run(mutations: list[Mutation], root: str, python: str, timeout: float, baseline: bool) -> int:
    for mutation in mutations:
        check(mutation, root)
    files = repository_files(root)
    survived = []
    with tempfile.TemporaryDirectory(prefix="mutation-testing-") as work:
        if baseline:
            tests = sorted({test for mutation in mutations for test in mutation.tests})
            code, seconds, tail = run_tests(in_fresh_copy(root, files, work, "baseline"), tests, python, timeout)
            print(f"baseline (unchanged code, {len(tests)} test ids): exit {code} in {seconds:.0f} s", flush=True)
            if code != 0:
                raise MutationError(f"the tests fail (or time out) without any mutation; fix them first:\n{tail}")
        width = max(len(m.name) for m in mutations)
        for mutation in mutations:
            tree = in_fresh_copy(root, files, work, mutation.name)
            apply(mutation, tree)
            code, seconds, tail = run_tests(tree, list(mutation.tests), python, timeout)
            if code in (4, 5):  # usage error / nothing collected: a wrong test id, not a caught mutation
                raise MutationError(f"{mutation.name}: pytest could not run {mutation.tests} (exit {code}):\n{tail}")
            verdict = {None: "KILLED (timeout)", 0: "SURVIVED", 2: "KILLED (collection error)"}.get(code, "KILLED")
            print(f"{mutation.name:<{width}}  {verdict:<24} {seconds:6.1f} s  {mutation.file}", flush=True)
            if code == 0:
                survived.append(mutation)
                print(f"    breaks: {mutation.breaks}\n    tests: {' '.join(mutation.tests)}", flush=True)
            shutil.rmtree(tree, ignore_errors=True)
    print(f"{len(mutations) - len(survived)} of {len(mutations)} mutations killed"
          + (f"; survived: {', '.join(m.name for m in survived)}" if survived else ""))
    return 1 if survived else 0


def main(argv: list[str] | None = None) -> int:
    parser = one_line_errors(argparse.ArgumentParser(prog="python -m tools.mutation_testing", description=__doc__,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("--only", nargs="+", metavar="NAME", help="Run these mutations only.")
    parser.add_argument("--list", action="store_true", help="List the mutations and exit.")
    parser.add_argument("--python", default=os.path.join(ROOT, ".venv", "bin", "python"),
                        help="The interpreter that runs the tests (default: the project's .venv).")
    parser.add_argument("--timeout", type=float, default=900, help="Seconds per test run; past it: KILLED.")
    parser.add_argument("--no-baseline", action="store_true", help="Skip the run of the tests on unchanged code.")
    args = parser.parse_args(argv)
    by_name = {mutation.name: mutation for mutation in MUTATIONS}
    if args.list:
        for mutation in MUTATIONS:
            print(f"{mutation.name}: {mutation.file}: {mutation.breaks}\n    {' '.join(mutation.tests)}")
        return 0
    unknown = sorted(set(args.only or ()) - set(by_name))
    if unknown:
        parser.error(f"unknown mutation(s) {', '.join(unknown)}; see --list")
    selected = [by_name[name] for name in args.only] if args.only else MUTATIONS
    try:
        return run(selected, ROOT, args.python, args.timeout, baseline=not args.no_baseline)
    except MutationError as error:
        print(f"mutation_testing: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
