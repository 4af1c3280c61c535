"""ROUGE measures learning: a small model fine-tuned on the generated corpus scores clearly higher than
the same model untuned (zero-shot), through the same CLI and scoring path."""

import json

import torch
from transformers import GPT2Config, GPT2LMHeadModel

import run_summarization
from generated_news.corpus import write_corpus
from generated_news.tiny_model import corpus_documents, train_tokenizer


def results(folder):
    with open(folder / "all_results.json") as handle:
        return json.load(handle)


def test_fine_tuning_raises_rouge_well_above_the_untuned_model(tmp_path):
    corpus, base = tmp_path / "corpus", tmp_path / "base"
    write_corpus(corpus, num_train=240, num_validation=16, num_test=16, seed=1)
    tokenizer = train_tokenizer(corpus_documents(str(corpus)), 1024, str(base))
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=512, n_embd=64, n_layer=2, n_head=2,
                               eos_token_id=tokenizer.eos_token_id)).save_pretrained(str(base))
    common = ["--model_name_or_path", str(base), "--data_dir", str(corpus), "--max_length", "320", "--do_predict",
              "--predict_with_generate", "--generation_num_beams", "1", "--generation_max_new_tokens", "60",
              "--per_device_eval_batch_size", "16", "--disable_tqdm", "true"]
    run_summarization.main(["--method", "zero-shot", "--output_dir", str(tmp_path / "zero-shot"),
                            "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
                            *common])
    run_summarization.main(["--method", "full", "--output_dir", str(tmp_path / "full"), "--do_train",
                            "--num_train_epochs", "8", "--learning_rate", "3e-3", "--warmup_steps", "10",
                            "--per_device_train_batch_size", "8", "--eval_generate_samples", "8", *common])
    untuned, tuned = results(tmp_path / "zero-shot"), results(tmp_path / "full")
    assert untuned["trainable_params"] == 0 and untuned["predict_samples"] == tuned["predict_samples"] == 16
    assert tuned["predict_loss"] < untuned["predict_loss"] - 2
    assert tuned["predict_rouge1"] > untuned["predict_rouge1"] + 0.1, (untuned["predict_rouge1"],
                                                                       tuned["predict_rouge1"])
    assert tuned["predict_rougeLsum"] > untuned["predict_rougeLsum"] + 0.1
    assert tuned["predict_rouge1_ci_low"] > untuned["predict_rouge1_ci_high"]
