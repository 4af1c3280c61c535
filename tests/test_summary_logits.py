"""Logits only at summary positions: the same loss and the same gradients as the standard full-logits loss,
for every method (the soft prompt shifts positions, LoRA goes through PEFT, head and full train the head)."""

import pytest
import torch

from peft_methods import METHODS
from summarization_data import SummarizationCollator
from summarization_training import SummarizationTrainer, SummarizationTrainingArguments

from .test_methods import build


def ragged_batch(seed=0):
    """Right-padded examples of different lengths, summaries of different lengths (as the collator makes them)."""
    generator = torch.Generator().manual_seed(seed)
    features = []
    for article, summary in ((30, 9), (17, 5), (24, 12)):
        ids = torch.randint(0, 1000, (article + summary,), generator=generator).tolist()
        features.append({"input_ids": ids, "labels": [-100] * article + ids[article:]})
    return SummarizationCollator(pad_token_id=50256)(features)


def loss_and_grads(trainer, model, batch, num_items_in_batch):
    model.zero_grad()
    loss = trainer.compute_loss(model, dict(batch), num_items_in_batch=num_items_in_batch)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def comparable_model(name, tokenizer):
    """The method's model in training mode, ready for two passes whose gradients are compared."""
    model = build(name, tokenizer).train()
    for module in model.modules():  # dropout off: both passes must see the same network
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    with torch.no_grad():  # LoRA's B starts at zero, which would leave A without a gradient to compare
        for key, parameter in model.named_parameters():
            if "lora_B" in key:
                parameter.normal_(std=0.1)
    return model


@pytest.mark.parametrize("num_items_in_batch", [None, torch.tensor(23)])
@pytest.mark.parametrize("name", list(METHODS))
def test_summary_only_logits_give_the_standard_loss_and_gradients(name, num_items_in_batch, tokenizer, tmp_path):
    model = comparable_model(name, tokenizer)
    batch = ragged_batch()
    results = {}
    for restricted in (True, False):
        args = SummarizationTrainingArguments(output_dir=str(tmp_path), summary_logits_only=restricted,
                                              report_to=[], use_cpu=True, eval_strategy="no",
                                              save_strategy="no", load_best_model_at_end=False)
        trainer = SummarizationTrainer(model=model, args=args, method=METHODS[name])
        results[restricted] = loss_and_grads(trainer, model, batch, num_items_in_batch)
    (loss, grads), (reference_loss, reference_grads) = results[True], results[False]
    # The model's own loss (labels shifted inside the model) is the reference both are measured against.
    with torch.no_grad():
        standard = model(**batch).loss
    if num_items_in_batch is None:
        torch.testing.assert_close(reference_loss, standard)
    torch.testing.assert_close(loss, reference_loss, rtol=1e-5, atol=1e-6)
    assert grads.keys() == reference_grads.keys() and grads
    for key in grads:
        torch.testing.assert_close(grads[key], reference_grads[key], rtol=1e-4, atol=1e-7)
        assert grads[key].abs().sum() > 0, key


def test_only_summary_positions_reach_the_head(tokenizer, tmp_path):
    """The head sees exactly the positions that predict a labelled token: position p for a label at p + 1 (the
    causal-LM shift), one per summary token; compared by the hidden states themselves, not only their number
    (the summary tokens' own positions are as many)."""
    model = build("lora", tokenizer).eval()  # eval: no dropout, both passes see the same network
    head = model.get_output_embeddings()
    seen = []
    handle = head.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].detach()))
    args = SummarizationTrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True, eval_strategy="no",
                                          save_strategy="no", load_best_model_at_end=False)
    trainer = SummarizationTrainer(model=model, args=args, method=METHODS["lora"])
    batch = ragged_batch()
    with torch.no_grad():
        trainer.compute_loss(model, dict(batch))
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])  # every position
    handle.remove()
    restricted, every = seen
    labels = batch["labels"]
    predicts_summary = torch.zeros_like(labels, dtype=torch.bool)
    predicts_summary[:, :-1] = labels[:, 1:] != -100
    assert restricted.shape == (int(predicts_summary.sum()), model.config.n_embd)
    torch.testing.assert_close(restricted, every[predicts_summary])
    assert not torch.allclose(every[predicts_summary], every[labels != -100])  # the check can tell them apart


def trainer_with(model, tmp_path, **overrides):
    # Loss only: generation-based evaluation (on by default) is tested in test_generation.py.
    settings = dict(report_to=[], use_cpu=True, eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
                    predict_with_generate=False)
    args = SummarizationTrainingArguments(output_dir=str(tmp_path), **{**settings, **overrides})
    return SummarizationTrainer(model=model, args=args, method=METHODS["full"])


def test_label_smoothing_keeps_the_full_logits_path(tokenizer, tmp_path):
    model = build("full", tokenizer).eval()
    batch = ragged_batch()
    smoothed = [trainer_with(model, tmp_path, label_smoothing_factor=0.1, summary_logits_only=flag)
                .compute_loss(model, dict(batch)) for flag in (True, False)]
    torch.testing.assert_close(smoothed[0], smoothed[1])
    assert not torch.isclose(smoothed[0], trainer_with(model, tmp_path).compute_loss(model, dict(batch)))


def test_a_model_without_logits_to_keep_is_refused_up_front(tokenizer, tmp_path):
    from transformers import GPT2LMHeadModel

    from core import BadInputError

    class OldCausalLM(GPT2LMHeadModel):
        def forward(self, input_ids=None, attention_mask=None, labels=None):
            return super().forward(input_ids=input_ids, attention_mask=attention_mask, labels=labels)

    model = OldCausalLM(build("full", tokenizer).config)
    with pytest.raises(BadInputError, match="OldCausalLM.forward has no `logits_to_keep`.*--summary_logits_only false"):
        trainer_with(model, tmp_path)
    trainer_with(model, tmp_path, summary_logits_only=False)  # the stock path still works


def test_evaluation_loss_is_token_weighted_over_the_split_whatever_the_batching(tokenizer, tmp_path):
    from datasets import Dataset

    generator = torch.Generator().manual_seed(1)
    rows = {"input_ids": [], "labels": []}
    for article, summary in ((30, 9), (17, 5), (24, 12), (11, 3), (20, 7)):
        ids = torch.randint(0, 1000, (article + summary,), generator=generator).tolist()
        rows["input_ids"].append(ids)
        rows["labels"].append([-100] * article + ids[article:])
    dataset = Dataset.from_dict(rows)
    model = build("prompt", tokenizer).eval()
    with torch.no_grad():  # the definition: summed NLL of every summary token / number of summary tokens
        total = count = 0.0
        for ids, labels in zip(rows["input_ids"], rows["labels"]):
            n = sum(label != -100 for label in labels[1:])
            total += model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss.item() * n
            count += n
    for batch_size in (2, 5):
        trainer = trainer_with(model, tmp_path, per_device_eval_batch_size=batch_size)
        trainer.data_collator = SummarizationCollator(pad_token_id=50256)
        loss = trainer.evaluate(dataset)["eval_loss"]
        assert loss == pytest.approx(total / count, rel=1e-5), batch_size
