"""The offline demo: every method and both baselines on generated news with a small pretrained GPT-2."""
