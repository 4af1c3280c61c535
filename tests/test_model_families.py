"""Every method on every model family: GPT-2, Llama with tied embeddings (SmolLM2-135M-Instruct's layout: GQA,
rotary positions, tied head), Llama untied, Qwen2 (tied, biased q/k/v) and GPT-NeoX (rotary on part of each head).

The models are tiny and random and share one byte-level BPE tokenizer (GPT-2's recipe) with a 512-token
vocabulary: with GPT-2's 50,257 tokens the vocabulary would be nearly all of each model and of the test time.

Per family x method: a SummarizationTrainer step changes exactly the weights the method trains; the run folder
reloads (our loader, the method's own `load`, plain PEFT for adapters) to the same logits and summaries;
left-padded batched generation with the static KV cache equals one prompt at a time, greedy and with beams.
"""

import os

import pytest
import torch
from datasets import Dataset
from peft import PeftModel
from tokenizers import ByteLevelBPETokenizer
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2TokenizerFast,
    GPTNeoXConfig,
    HfArgumentParser,
    LlamaConfig,
    Qwen2Config,
)

from core import BadInputError
from model_loading.kernels import use_fused_gelu
from peft_methods import METHODS, RUNNABLE
from peft_methods.full import load_full_weights
from peft_methods.head import HeadConfig
from peft_methods.ia3 import IA3MethodConfig
from peft_methods.loading import load_trained_model
from peft_methods.lora import LoraMethodConfig
from peft_methods.soft_prompt import SoftPromptConfig
from summarization_data import SummarizationCollator
from summarization_data.tokenization import tokenize_batch
from summarization_training import SummarizationTrainer, SummarizationTrainingArguments
from summary_generation import PromptFormat, SummarySettings
from summary_generation.generate import decode_until_eos, generate_summary_ids
from summary_generation.padding import attention_masks, pad_sequences

V, EOS = 512, 0  # the tokenizer's vocabulary fits in V; its only special token, EOS, comes first
LLAMA = dict(vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=256, bos_token_id=EOS, eos_token_id=EOS)
FAMILIES = {
    "gpt2": lambda: GPT2Config(vocab_size=V, n_layer=2, n_embd=32, n_head=2, n_positions=256, bos_token_id=EOS,
                               eos_token_id=EOS),
    "llama-tied": lambda: LlamaConfig(**LLAMA, tie_word_embeddings=True),
    "llama-untied": lambda: LlamaConfig(**LLAMA, tie_word_embeddings=False),
    "qwen2": lambda: Qwen2Config(**LLAMA, tie_word_embeddings=True),
    "gpt-neox": lambda: GPTNeoXConfig(vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, max_position_embeddings=256, rotary_pct=0.5,
                                      bos_token_id=EOS, eos_token_id=EOS),
}
CONFIGS = {
    "prompt": SoftPromptConfig(num_virtual_tokens=4),
    "lora": LoraMethodConfig(lora_r=4, lora_alpha=8, lora_dropout=0.0),
    "ia3": IA3MethodConfig(),
    "head": HeadConfig(unfreeze_last_n_blocks=1),
    "full": None,
    "dora": LoraMethodConfig(lora_r=4, lora_alpha=8, lora_dropout=0.0),
}
ARTICLES = [
    "Rain fell in Oslo on Monday.",
    "Officials in Lyon said on Friday that a new bridge over the river will open next spring after years of work.",
    "A fire destroyed a warehouse in Porto. Nobody was hurt, firefighters said.",
]
CASES = [(family, method) for family in FAMILIES for method in METHODS]
LAST_BLOCK = {"gpt2": "transformer.h.1.", "llama-tied": "model.layers.1.", "llama-untied": "model.layers.1.",
              "qwen2": "model.layers.1.", "gpt-neox": "gpt_neox.layers.1."}


def trains(family, method, name):
    """Whether parameter `name` is one `method` should train."""
    return {"prompt": name == "prompt_embeddings", "lora": "lora_" in name, "ia3": "ia3_l" in name, "full": True,
            "dora": "lora_" in name,  # LoRA's factors and lora_magnitude_vector
            "head": name == "lm_head.weight" or name.startswith(LAST_BLOCK[family])}[method]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Models this small gain nothing from a second thread, and threads that wait for each other on cores that
    other processes share make every step several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    """GPT-2's tokenizer recipe (byte-level BPE, EOS its one special token) with a small vocabulary; it replaces
    conftest's real GPT-2 tokenizer in this file."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(ARTICLES + ["[SUMMARIZE]", "\nTL;DR:"], vocab_size=V, special_tokens=["<|endoftext|>"])
    folder = str(tmp_path_factory.mktemp("tokenizer"))
    GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>").save_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)  # from a folder, as runs load it (and with its name)
    tokenizer.pad_token = tokenizer.eos_token
    assert tokenizer.eos_token_id == EOS and len(tokenizer) <= V
    return tokenizer


@pytest.fixture(scope="module")
def base_dirs(tmp_path_factory, tokenizer):
    """One saved random base model per family: every run loads it the way run_summarization.py does."""
    folders = {}
    for family, config in FAMILIES.items():
        torch.manual_seed(0)
        folders[family] = str(tmp_path_factory.mktemp(family))
        AutoModelForCausalLM.from_config(config()).save_pretrained(folders[family])
        tokenizer.save_pretrained(folders[family])
    return folders


def load_base(folder):
    model = AutoModelForCausalLM.from_pretrained(folder)
    use_fused_gelu(model)  # as model_loading.load_base_model does
    return model


def build(method, folder, tokenizer):
    return METHODS[method].build(load_base(folder), CONFIGS[method], tokenizer)


def dataset(tokenizer):
    rows = {"id": ["a", "b", "c"], "article": ARTICLES, "highlights": ["Rain.", "A bridge opens in Lyon.", "Fire."]}
    return Dataset.from_dict(tokenize_batch(rows, tokenizer, PromptFormat(max_length=96, min_article_tokens=1,
                                                                        max_new_tokens=8), "article", "highlights"))


def loss_batch(tokenizer):
    return SummarizationCollator(pad_token_id=EOS)(list(dataset(tokenizer).select_columns(["input_ids", "labels"])))


def prompts(tokenizer):
    """Prompts of three different lengths, left-padded as generation batches are."""
    ids = [tokenizer(article + "\nTL;DR:")["input_ids"] for article in ARTICLES]
    return pad_sequences(ids, EOS, "left"), attention_masks(ids, "left")


def logits(model, batch):
    with torch.no_grad():
        return model.eval()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def summaries(model, input_ids, attention_mask, num_beams=1, cache="static"):
    config = SummarySettings(6, num_beams, 0, 1.0, cache=cache, eos_token_id=EOS, pad_token_id=EOS).generation_config()
    return generate_summary_ids(model.eval(), input_ids, attention_mask, config)


def until_eos(tokens: list[int]) -> list[int]:
    return tokens[: tokens.index(EOS) + 1] if EOS in tokens else tokens


def make_adapter_matter(model):
    """A "trained" adapter that changes the output: LoRA's B starts at zero (which also leaves A without a
    gradient on the first step), and a soft prompt initialised from token embeddings is close to plain text."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name or "prompt_embeddings" in name or "ia3_l" in name:
                parameter.normal_(std=0.5)
    return model


def trainer_for(model, method, tokenizer, output_dir, **overrides):
    args = SummarizationTrainingArguments(**{
        "output_dir": output_dir, "max_steps": 1, "per_device_train_batch_size": 3, "learning_rate": 1e-2,
        "report_to": "none", "use_cpu": True, "eval_strategy": "no", "save_strategy": "no",
        "load_best_model_at_end": False, "logging_steps": 100, **overrides})
    return SummarizationTrainer(model=model, args=args, train_dataset=dataset(tokenizer), processing_class=tokenizer,
                                data_collator=SummarizationCollator(pad_token_id=EOS), method=RUNNABLE[method])


@pytest.mark.parametrize("family,method", CASES)
def test_training_changes_exactly_the_trainable_weights_and_the_run_reloads_identically(
        family, method, base_dirs, tokenizer, tmp_path):
    model = make_adapter_matter(build(method, base_dirs[family], tokenizer))
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {name for name in before if trains(family, method, name)}
    trainer = trainer_for(model, method, tokenizer, str(tmp_path / "train"))
    batch, (input_ids, attention_mask) = loss_batch(tokenizer), prompts(tokenizer)
    # The loss with logits at summary positions only (a boolean `logits_to_keep`) is the model's own loss.
    assert trainer.summary_logits_only
    with torch.no_grad():
        torch.testing.assert_close(trainer.compute_loss(model.eval(), dict(batch)), model(**batch).loss)
    trainer.train()
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter, before[name]) != (name in trainable), name

    run_dir = str(tmp_path / "run")
    trainer.save_model(run_dir)
    expected_logits, expected_summaries = logits(model, batch), summaries(model, input_ids, attention_mask)
    reloaded, _, detected = load_trained_model(run_dir)
    assert detected is METHODS[method]
    fresh = build(method, base_dirs[family], tokenizer)  # the resume path: the method's load into a new build
    METHODS[method].load(fresh, run_dir)
    for other in (reloaded, fresh):
        torch.testing.assert_close(logits(other, batch), expected_logits)
    assert torch.equal(summaries(reloaded, input_ids, attention_mask), expected_summaries)
    if METHODS[method].peft_type:  # the adapter is PEFT's format: plain PEFT loads it
        peft_model = PeftModel.from_pretrained(load_base(base_dirs[family]), run_dir)
        torch.testing.assert_close(logits(peft_model, batch), expected_logits)
    if method == "head":  # the input embeddings never trained, and the reloaded head is still its own matrix
        embeddings = reloaded.get_input_embeddings().weight
        assert reloaded.get_output_embeddings().weight is not embeddings
        torch.testing.assert_close(embeddings, load_base(base_dirs[family]).get_input_embeddings().weight)


BF16_CASES = [*CASES, *((family, "zero-shot") for family in FAMILIES)]
GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (make gpu-check runs it)")


@pytest.mark.parametrize("family,method", BF16_CASES)
def test_bf16_trains_evaluates_and_generates_what_fp32_weights_generate(family, method, base_dirs, tokenizer, tmp_path):
    """--bf16 on CPU takes a GPU's path: fp32 master weights, accelerate's autocast wrapped around `forward` for
    training and the evaluation loss. Generation (static and dynamic cache, greedy and beams, through the
    Trainer's own loop) decodes in the weights' fp32 (summary_generation.generate): exactly what a never-wrapped
    copy of the same weights generates. Under autocast the static cache crashed on rotary models (Llama, Qwen2)."""
    check_bf16_path(family, method, base_dirs, tokenizer, tmp_path, use_cpu=True)


@pytest.mark.gpu
@GPU
@pytest.mark.parametrize("method", list(RUNNABLE))
def test_bf16_on_a_gpu_trains_evaluates_and_generates_what_fp32_weights_generate(method, base_dirs, tokenizer,
                                                                                 tmp_path):
    """The same on CUDA, on SmolLM2's layout (Llama, GQA, tied head)."""
    check_bf16_path("llama-tied", method, base_dirs, tokenizer, tmp_path, use_cpu=False)


def check_bf16_path(family, method, base_dirs, tokenizer, tmp_path, use_cpu: bool):
    model = build(method, base_dirs[family], tokenizer) if method != "zero-shot" else load_base(base_dirs[family])
    model = make_adapter_matter(model)
    trainer = trainer_for(model, method, tokenizer, str(tmp_path), bf16=True, generation_max_new_tokens=6,
                          no_repeat_ngram_size=0, use_cpu=use_cpu)
    before = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    if method != "zero-shot":
        trainer.train()
        assert all(not torch.equal(p, before[name]) for name, p in model.named_parameters() if name in before)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    trained = {name: p.detach().clone() for name, p in model.state_dict().items()}
    evaluation = trainer.evaluate(dataset(tokenizer))
    assert "_original_forward" in model.__dict__  # accelerate's autocast wrapper is on the model being evaluated
    reference = build(method, base_dirs[family], tokenizer) if method != "zero-shot" else load_base(base_dirs[family])
    reference.load_state_dict(trained)
    reference.to(trainer.args.device).eval()
    with torch.no_grad():  # the model's own loss in fp32, never wrapped
        fp32_loss = reference(**{k: v.to(trainer.args.device) for k, v in loss_batch(tokenizer).items()}).loss.item()
    assert evaluation["eval_loss"] != fp32_loss  # the evaluation did run under autocast
    assert abs(evaluation["eval_loss"] - fp32_loss) < 0.02 * fp32_loss  # bf16 matmuls: the same loss to ~2%
    input_ids, attention_mask = (tensor.to(trainer.args.device) for tensor in prompts(tokenizer))
    for cache in ("static", "dynamic"):
        for num_beams in (1, 3):
            trainer.args.generation_cache, trainer.args.generation_num_beams = cache, num_beams
            generated = trainer.generate_summaries(dataset(tokenizer))
            expected = summaries(reference, input_ids, attention_mask, num_beams, cache)
            assert generated.predictions == decode_until_eos(expected, tokenizer), (cache, num_beams)


@pytest.mark.parametrize("family,method", CASES)
def test_left_padded_batched_generation_equals_one_prompt_at_a_time(family, method, base_dirs, tokenizer):
    model = make_adapter_matter(build(method, base_dirs[family], tokenizer))
    input_ids, attention_mask = prompts(tokenizer)
    for num_beams in (1, 3):
        together = summaries(model, input_ids, attention_mask, num_beams)
        for row in range(len(ARTICLES)):
            real = attention_mask[row].bool()
            alone = summaries(model, input_ids[row:row + 1, real], attention_mask[row:row + 1, real], num_beams,
                              cache="dynamic")
            assert until_eos(together[row].tolist()) == until_eos(alone[0].tolist()), (num_beams, row)


def test_soft_prompt_takes_positions_0_to_n_minus_1_in_training_and_in_left_padded_generation(base_dirs, tokenizer):
    """Rotary models see positions, not learned position embeddings: generation must give the virtual tokens and
    the text the positions training gives them (virtual tokens 0..n-1, as PEFT), whatever padding sits between
    the soft prompt and the text."""
    model = make_adapter_matter(build("prompt", base_dirs["llama-tied"], tokenizer)).eval()
    n = model.num_virtual_tokens
    input_ids, attention_mask = prompts(tokenizer)
    seen = []
    rotary = model.base_model.model.rotary_emb
    handle = rotary.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs["position_ids"]),
                                              with_kwargs=True)
    together = summaries(model, input_ids, attention_mask)
    handle.remove()
    prefill = seen[0].expand(len(ARTICLES), -1)  # positions of soft prompt + left padding + text
    for row in range(len(ARTICLES)):
        real = torch.cat((torch.ones(n, dtype=torch.bool), attention_mask[row].bool()))
        assert prefill[row, real].tolist() == list(range(int(real.sum())))
        # The reference: greedy decoding with the training forward (no cache, no padding).
        sequence = input_ids[row:row + 1, attention_mask[row].bool()]
        prompt_length = sequence.shape[1]
        for _ in range(together.shape[1]):
            with torch.no_grad():
                next_token = model(input_ids=sequence).logits[:, -1].argmax(-1, keepdim=True)
            sequence = torch.cat((sequence, next_token), dim=1)
        assert until_eos(together[row].tolist()) == until_eos(sequence[0, prompt_length:].tolist()), row


def test_lora_targets_peft_defaults_per_architecture_and_all_linear_on_request(base_dirs, tokenizer):
    expected = {"gpt2": {"c_attn"}, "llama-tied": {"q_proj", "v_proj"}, "qwen2": {"q_proj", "v_proj"},
                "gpt-neox": {"query_key_value"}}
    for family, targets in expected.items():
        config = build("lora", base_dirs[family], tokenizer).peft_config["default"]
        assert set(config.target_modules) == targets and config.fan_in_fan_out == (family == "gpt2"), family
    (parsed,) = HfArgumentParser(LoraMethodConfig).parse_args_into_dataclasses(
        ["--lora_target_modules", "all-linear", "--lora_r", "2"])
    adapted = {}
    for family in ("llama-tied", "gpt2"):
        model = METHODS["lora"].build(load_base(base_dirs[family]), parsed, tokenizer)
        names = [name for name, _ in model.named_parameters() if ".lora_A." in name]
        adapted[family] = {name.split(".lora_A.")[0].split(".")[-1] for name in names}
        assert not hasattr(model.get_output_embeddings(), "lora_A")  # the LM head stays out
        assert model.peft_config["default"].fan_in_fan_out == (family == "gpt2")
    assert adapted == {"llama-tied": {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"},
                       "gpt2": {"c_attn", "c_proj", "c_fc"}}
    with pytest.raises(BadInputError, match="--lora_target_modules all-linear q_proj: all-linear already means"):
        LoraMethodConfig(lora_target_modules=["all-linear", "q_proj"])


def test_head_unties_a_tied_head_once_and_for_good_and_leaves_an_untied_one_in_place(base_dirs, tokenizer, tmp_path):
    untied = load_base(base_dirs["llama-untied"])
    own_head = untied.lm_head.weight
    model = METHODS["head"].build(untied, HeadConfig(), tokenizer)
    assert model.lm_head.weight is own_head  # no needless copy of a vocabulary x width matrix
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"lm_head.weight"}

    tied = load_base(base_dirs["llama-tied"])
    assert tied.lm_head.weight is tied.model.embed_tokens.weight
    model = METHODS["head"].build(tied, HeadConfig(), tokenizer)
    assert model.lm_head.weight is not model.model.embed_tokens.weight
    with torch.no_grad():
        model.lm_head.weight.add_(0.1)
    model.tie_weights()  # transformers' re-tying (after loading, resizing) must not undo the untie
    model.tie_weights(recompute_mapping=False)
    assert model.lm_head.weight is not model.model.embed_tokens.weight
    model.save_pretrained(str(tmp_path))  # a complete copy of the model reloads untied, with the trained head
    reloaded = AutoModelForCausalLM.from_pretrained(str(tmp_path))
    assert reloaded.lm_head.weight is not reloaded.model.embed_tokens.weight
    torch.testing.assert_close(reloaded.lm_head.weight, model.lm_head.weight)
    torch.testing.assert_close(reloaded.model.embed_tokens.weight, model.model.embed_tokens.weight)


@pytest.mark.parametrize("family", ["llama-tied", "gpt-neox"])
def test_full_weights_load_from_a_sharded_folder(family, base_dirs, tokenizer, tmp_path):
    """Large models save in shards; GPT-NeoX also renames its head on save (lm_head -> embed_out)."""
    model = build("full", base_dirs[family], tokenizer)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.01)
    model.save_pretrained(str(tmp_path / "run"), max_shard_size="20KB")
    tokenizer.save_pretrained(str(tmp_path / "run"))
    assert os.path.isfile(tmp_path / "run" / "model.safetensors.index.json")
    fresh = build("full", base_dirs[family], tokenizer)
    METHODS["full"].load(fresh, str(tmp_path / "run"))
    batch = loss_batch(tokenizer)
    torch.testing.assert_close(logits(fresh, batch), logits(model, batch))
    reloaded, _, method = load_trained_model(str(tmp_path / "run"))
    assert method.name == "full"
    torch.testing.assert_close(logits(reloaded, batch), logits(model, batch))
    with pytest.raises(BadInputError, match="weights do not match this model"):
        load_full_weights(build("full", base_dirs["llama-untied" if family == "llama-tied" else "gpt2"], tokenizer),
                          str(tmp_path / "run"))


@pytest.mark.parametrize("family", ["llama-tied", "qwen2", "gpt-neox"])
def test_fused_gelu_is_a_no_op_on_models_without_gpt2s_activation(family, base_dirs):
    model = AutoModelForCausalLM.from_pretrained(base_dirs[family])
    modules = [type(module) for module in model.modules()]
    assert use_fused_gelu(model) == 0
    assert [type(module) for module in model.modules()] == modules
