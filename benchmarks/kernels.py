"""The measurements behind two kernel choices (docs/performance.md), on GPT-2 small's shape:

    python -m benchmarks.kernels

- activation: GPT-2's stock `gelu_new` (five elementwise ops) vs the fused `GELUTanh` that
  `model_loading/kernels.py` swaps in: a training step (batch x 512, head at summary positions
  only) and a prompt prefill (16 x 384);
- KV cache: a decoding step at batch 8 after a 384-token prompt, transformers' dynamic cache
  (concatenates keys and values every step) vs the static cache the pipeline generates with.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel

from core import one_line_errors
from model_loading.kernels import use_fused_gelu

from .measure import synchronize


def best_seconds(function, repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        function()
        synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def activation(config: GPT2Config, batch: int, length: int, summary: int, repeats: int) -> dict:
    input_ids = torch.randint(0, config.vocab_size - 1, (batch, length))
    keep = torch.zeros(batch, length, dtype=torch.bool)
    keep[:, -summary - 1:-1] = True
    prompts = torch.randint(0, config.vocab_size - 1, (16, 384))
    result = {}
    for name, fused in (("gelu_new", False), ("fused", True)):
        torch.manual_seed(0)
        model = GPT2LMHeadModel(config)
        if fused:
            use_fused_gelu(model)

        def train_step(model=model):
            model(input_ids, logits_to_keep=keep).logits.logsumexp(-1).mean().backward()

        model.train()
        train = best_seconds(train_step, repeats)
        model.eval()
        with torch.no_grad():
            prefill = best_seconds(lambda model=model: model(prompts, logits_to_keep=1), repeats)
        result[name] = {"train_step_s": train, "prefill_s": prefill}
    return result


def kv_cache(config: GPT2Config, prompt_length: int, new_tokens: int) -> dict:
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config).eval()
    use_fused_gelu(model)
    prompts = torch.randint(0, config.vocab_size - 1, (8, prompt_length))
    mask = torch.ones_like(prompts)
    result = {}
    for cache in ("dynamic", "static"):
        def generate(tokens, cache=cache):
            settings = GenerationConfig(max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                                        pad_token_id=config.vocab_size - 1, eos_token_id=config.vocab_size - 1,
                                        cache_implementation=cache, disable_compile=True)
            with torch.no_grad():
                model.generate(input_ids=prompts, attention_mask=mask, generation_config=settings)

        prefill_only = best_seconds(lambda: generate(1), 1)
        with_decoding = best_seconds(lambda: generate(new_tokens), 1)
        result[cache] = {"decode_step_s": (with_decoding - prefill_only) / (new_tokens - 1)}
    return result


def run(argv=None) -> dict:
    parser = one_line_errors(argparse.ArgumentParser(prog="python -m benchmarks.kernels",
                                                     description=__doc__.splitlines()[0]))
    parser.add_argument("--n_layer", type=int, default=12, help="Layers (12: GPT-2 small).")
    parser.add_argument("--n_embd", type=int, default=768, help="Width (768: GPT-2 small).")
    parser.add_argument("--batch_size", type=int, default=2, help="Training batch (x 512 tokens).")
    parser.add_argument("--repeats", type=int, default=2, help="Timed repeats (the best is kept).")
    parser.add_argument("--output", help="Also write the results to this JSON file.")
    args = parser.parse_args(argv)
    config = GPT2Config(n_layer=args.n_layer, n_embd=args.n_embd, n_head=max(1, args.n_embd // 64))
    report = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
              "cpu_threads": torch.get_num_threads(), "n_layer": args.n_layer, "n_embd": args.n_embd,
              "activation": activation(config, args.batch_size, 512, 60, args.repeats),
              "kv_cache": kv_cache(config, 384, 16)}
    act, cache = report["activation"], report["kv_cache"]
    print(f"training step ({args.batch_size} x 512): gelu_new {act['gelu_new']['train_step_s']:.3f} s, "
          f"fused {act['fused']['train_step_s']:.3f} s")
    print(f"prefill (16 x 384): gelu_new {act['gelu_new']['prefill_s']:.3f} s, fused {act['fused']['prefill_s']:.3f} s")
    print(f"decoding step (batch 8, 384-token prompts): dynamic cache {1000 * cache['dynamic']['decode_step_s']:.0f} "
          f"ms, static cache {1000 * cache['static']['decode_step_s']:.0f} ms")
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(report, handle, indent=2)
    return report


if __name__ == "__main__":
    run()
