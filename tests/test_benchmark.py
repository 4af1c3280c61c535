"""The benchmark on a tiny preset: what it measures is consistent (no timing is asserted)."""

import dataclasses
import json

import pytest

from benchmarks import benchmark, presets
from peft_methods import METHODS

TINY = presets.Preset(
    name="tiny", description="2-layer GPT-2, 128 tokens", batch_size=2, warmup_steps=1, measured_steps=1,
    generation_prompts=4, generation_batch_size=4, sequential_prompts=2, max_new_tokens=4,
    n_layer=2, n_embd=32, n_head=2, max_length=128, summary_tokens_mean=24, article_tokens_median=120,
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench") / "tiny.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(presets.PRESETS, "tiny", TINY)
        patch.setattr(benchmark, "PRESETS", presets.PRESETS)
        returned = benchmark.run(["--preset", "tiny", "--output", str(output), "--peak_tflops", "1"])
    assert json.loads(output.read_text()) == json.loads(json.dumps(returned))
    return returned, output


def test_every_method_measured_with_its_parameter_count(report):
    report, _ = report
    rows = {row["method"]: row for row in report["methods"]}
    assert list(rows) == [name for name, row in METHODS.items() if row.compared_by_default]
    d, vocab = TINY.n_embd, TINY.vocab_size
    assert rows["prompt"]["trainable_parameters"] == 6 * d  # '[SUMMARIZE]' is 6 GPT-2 tokens
    assert rows["full"]["trainable_parameters"] == rows["full"]["total_parameters"]
    assert rows["head"]["trainable_parameters"] == vocab * d  # the untied head only (configs/head.yaml)
    for row in rows.values():
        for loop in ("pipeline", "reference"):
            assert row[loop]["tokens_per_s"] > 0 and row[loop]["step_s"] > 0 and row[loop]["peak_host_mb"] > 0
        assert row["speedup"] == pytest.approx(row["pipeline"]["tokens_per_s"] / row["reference"]["tokens_per_s"])


def test_pipeline_does_less_work_than_full_logits(report):
    """Counted FLOPs: the head and the loss only at summary positions (a property, not a timing)."""
    report, _ = report
    for row in report["methods"]:
        assert row["pipeline"]["tflops_per_step"] < 0.8 * row["reference"]["tflops_per_step"], row["method"]


def test_batched_generation_gives_the_one_at_a_time_summaries(report):
    report, _ = report
    for row in report["methods"]:
        generation = row["generation"]
        assert generation["identical_summaries"] is True
        assert generation["batched"]["summaries"] == TINY.generation_prompts
        assert generation["batched"]["new_tokens_per_s"] == pytest.approx(
            generation["batched"]["summaries_per_s"] * TINY.max_new_tokens)


def test_length_grouping_never_pads_more(report):
    padding = report[0]["padding_fraction"]
    assert 0 <= padding["group_by_length"] <= padding["random"] < 1


def test_existing_results_are_not_overwritten(report, capsys):
    _, output = report
    before = output.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        benchmark.main(["--preset", "cpu-small", "--output", str(output)])
    assert exit_info.value.code == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert output.read_bytes() == before


TINY_OVERHEAD = dataclasses.replace(
    presets.PRESETS["overhead-cpu"], name="tiny-overhead", n_layer=2, max_length=64, batch_size=2, warmup_steps=1,
    measured_steps=2, repeats=2, summary_tokens_mean=16, article_tokens_median=60,
)


def test_overhead_preset_compares_the_pipeline_step_with_the_lean_step(tmp_path):
    output = tmp_path / "overhead.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(presets.PRESETS, "tiny-overhead", TINY_OVERHEAD)
        returned = benchmark.run(["--preset", "tiny-overhead", "--output", str(output)])
    written = json.loads(output.read_text())
    assert written == json.loads(json.dumps(returned)) and written["complete"] is True
    (row,) = written["methods"]
    assert row["method"] == "lora" and row["same_tokens"] is True  # both loops trained on the same batches
    assert row["trainable_parameters"] == 2 * 16 * (  # r=16 on every linear layer of 2 Llama blocks, not the head
        (32 + 32) + 2 * (32 + 16) + (32 + 32) + 2 * (32 + 64) + (64 + 32))
    for loop in ("pipeline", "lean"):
        assert len(row[loop]["step_s"]) == 2 and row[loop]["min_step_s"] == min(row[loop]["step_s"]) > 0
    assert row["ratio"] == pytest.approx(row["pipeline"]["min_step_s"] / row["lean"]["min_step_s"])
    assert row["optimizer_fused"] is True


def test_json_is_written_after_each_method(tmp_path, monkeypatch):
    """A run stopped during its second method keeps the first method's results."""
    output = tmp_path / "partial.json"
    monkeypatch.setitem(presets.PRESETS, "tiny-overhead", TINY_OVERHEAD)
    calls = []

    def second_method_fails(name, *args):
        if calls:
            assert json.loads(output.read_text())["methods"] == [{"method": "lora", "wall_s": pytest.approx(0, abs=5)}]
            raise KeyboardInterrupt
        calls.append(name)
        return {"method": name}

    monkeypatch.setattr(benchmark, "benchmark_overhead", lambda name, *args: second_method_fails(name, *args))
    with pytest.raises(KeyboardInterrupt):
        benchmark.run(["--preset", "tiny-overhead", "--output", str(output), "--methods", "lora", "ia3"])
    assert json.loads(output.read_text())["complete"] is False


def test_presets_match_the_issue():
    small = presets.PRESETS["gpt2-small"]
    assert (small.n_layer, small.n_embd, small.batch_size, small.max_length) == (12, 768, 32, 512)
    assert dataclasses.asdict(presets.PRESETS["cpu-small"])["max_length"] == 512


def test_kernel_benchmark_reports_both_variants(tmp_path):
    from benchmarks import kernels

    output = tmp_path / "kernels.json"
    report = kernels.run(["--n_layer", "1", "--n_embd", "64", "--repeats", "1", "--output", str(output)])
    assert json.loads(output.read_text()) == report
    assert set(report["activation"]) == {"gelu_new", "fused"} and set(report["kv_cache"]) == {"dynamic", "static"}
    assert all(v > 0 for variant in report["activation"].values() for v in variant.values())
    assert all(variant["decode_step_s"] > 0 for variant in report["kv_cache"].values())
