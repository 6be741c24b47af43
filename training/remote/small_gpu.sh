#!/usr/bin/env bash
# Train the default model (`small-gpu` recipe) and the paper's two ablations on one GPU machine,
# in about 8 minutes, from a carried corpus share; leave the results in $OUT.
#
#   usage: OUT=/path/to/results bash training/remote/small_gpu.sh DATA.tar.xz [WHEELS_DIR]
#
# DATA.tar.xz comes from `codet5p-train transfer corpus ... --instructions ...`. WHEELS_DIR holds
# wheels to install first (the pinned transformers / tokenizers / huggingface_hub, where the
# machine's own differ). Three runs share the GPU:
#   A  the full recipe (stage1_denoise, stage1, stage2, instruct);
#   B  `--ablation no-clm`: stage 1 without the causal LMs, reusing A's stage1_denoise;
#   C  `--ablation no-matching`: stage 2 without matching, reusing A's stage 1.
# B and C run beside A's matching stage with the same time budget. Results in $OUT (at most 8
# files of 16 MiB): A's final model in fp16 parts; A's and B's stage-1 models in int8 parts (for
# the completion ablation, evaluated after export elsewhere); logs.tgz with every run's metrics,
# budgets and configs, the retrieval scores of A's and C's stage-2 models and the stage-1 models'
# encoder reliance (`bench/encoder_reliance.py`), both measured here.
set -uo pipefail
DATA=${1:?usage: OUT=dir bash training/remote/small_gpu.sh DATA.tar.xz [WHEELS_DIR]}
WHEELS=${2:-}
OUT=${OUT:?set OUT to the results directory}
W=${WORK:-/tmp/codet5p-gpu}
RECIPE=${RECIPE:-small-gpu}  # RECIPE=tiny DEVICE=cpu: a dry run of this script on a laptop
DEVICE=${DEVICE:-cuda}
STEPS_SCALE=${STEPS_SCALE:-1}  # scales every stage's time budget
STAGE1_PACK=${STAGE1_PACK:-}  # a `transfer pack` of A's stage 1: start A at stage 2, no B
SETS=(); for kv in ${RECIPE_SET:-}; do SETS+=(--set "$kv"); done  # e.g. RECIPE_SET="batch_size=8"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
T0=$(date +%s)
say() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
mkdir -p "$OUT" "$W/A/runs/.chunk-cache" "$W/B/runs" "$W/C/runs" "$W/eval"
ln -sfn "$W/A/runs/.chunk-cache" "$W/B/runs/.chunk-cache"

if [ -n "$WHEELS" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
tar -xJf "$DATA" -C "$W" 2>/dev/null \
  || python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$DATA" "$W" || exit 1
mkdir -p "$W/A/instruct" && mv "$W/instruct/train.jsonl" "$W/A/instruct/train.jsonl"
say "installed and unpacked"
python3 - <<'EOF' || exit 1
import torch, transformers, tokenizers
print("torch", torch.__version__, "cuda", torch.cuda.is_available() and torch.cuda.get_device_name(0),
      "transformers", transformers.__version__, "tokenizers", tokenizers.__version__)
EOF
nproc; free -g | head -2

train() {  # name, log, extra args
  local name=$1 log=$2; shift 2
  python3 -m training.cli recipe "$RECIPE" --work "$W/$name" --corpus "$W/corpus" --device "$DEVICE" --steps-scale "$STEPS_SCALE" "${SETS[@]}" "$@" \
    > "$W/$log" 2>&1
  local rc=$?
  say "$log exited $rc"
  return $rc
}
wait_for() { while [ ! -e "$1" ]; do
  if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then say "gave up waiting for $1"; return 1; fi
  sleep 1; done; }

if [ -n "$STAGE1_PACK" ]; then
  python3 -m training.cli transfer unpack "$STAGE1_PACK" "$W/A/runs/stage1/final" || exit 1
  echo '{"from": "'"$STAGE1_PACK"'"}' > "$W/A/runs/stage1/DONE"
  mkdir -p "$W/A/runs/stage1_denoise" && cp "$W/A/runs/stage1/DONE" "$W/A/runs/stage1_denoise/DONE"
  say "A's stage 1 from $STAGE1_PACK"
fi
train A A.log --until stages &
PA=$!
if [ -z "$STAGE1_PACK" ]; then
  ( wait_for "$W/A/runs/stage1_denoise/DONE" $PA && train B B.log --ablation no-clm --reuse "$W/A" --until stage1 ) &
  PB=$!
fi
( wait_for "$W/A/runs/stage1/DONE" $PA && train C C.log --ablation no-matching --reuse "$W/A" --until stage2 ) &
PC=$!

# the completion ablation's two stage-1 models, packed as soon as both exist
[ -z "$STAGE1_PACK" ] && ( wait_for "$W/A/runs/stage1/DONE" $PA && wait_for "$W/B/runs/stage1/DONE" $PB \
  && python3 -m training.cli transfer pack "$W/A/runs/stage1/final" "$OUT" --precision int8 --name A-stage1 \
  && python3 -m training.cli transfer pack "$W/B/runs/stage1/final" "$OUT" --precision int8 --name B-stage1-no-clm \
  && say "packed stage-1 models" \
  && python3 bench/encoder_reliance.py "$W/A/runs/stage1/final" "$W/B/runs/stage1/final" \
       --heldout "$W/corpus/heldout" --limit 256 --threads 4 --out "$W/eval/encoder-reliance-stage1.json" > /dev/null \
  && say "scored stage-1 encoder reliance" ) > "$W/pack-stage1.log" 2>&1 &
# the retrieval ablation: A's and C's stage-2 models, scored here with torch
( wait_for "$W/A/runs/stage2/DONE" $PA && wait_for "$W/C/runs/stage2/DONE" $PC && for r in A C; do
    python3 -m training.cli eval retrieval --model-dir "$W/$r/runs/stage2/final" --device "$DEVICE" \
      --data "$W/corpus/heldout/retrieval.jsonl" --json --out "$W/eval/retrieval-$r-stage2.json" > /dev/null
  done && say "scored stage-2 retrieval" ) > "$W/eval-stage2.log" 2>&1 &
PE=$!

n=0
while kill -0 $PA 2>/dev/null; do
  sleep 1; n=$((n + 1))
  if [ $((n % 20)) -eq 0 ]; then
    say "A: $(tail -c 300 "$W/A.log" | tr '\r\n' '  ' | tail -c 200)"
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
  fi
done
wait $PA; say "A done"
if [ -e "$W/A/runs/instruct/DONE" ]; then
  python3 -m training.cli transfer pack "$W/A/runs/instruct/final" "$OUT" --precision fp16 --name A-final
fi
wait $PE
wait
mkdir -p "$W/packs" && mv "$OUT"/*.pack.json "$W/packs/" 2>/dev/null
cd "$W" && tar -czf "$OUT/logs.tgz" --exclude='*.safetensors' --exclude='checkpoints' --exclude='corpus' \
  --exclude='A/instruct/train.jsonl' --exclude='.chunk-cache' --exclude='tokenizer.json' ./*.log A B C eval packs
# what comes back is capped at 64 MiB: the default model and the logs first
if [ "$(du -cb "$OUT"/* | tail -1 | cut -f1)" -gt 66500000 ]; then
  say "over the 64 MiB return limit: dropping the stage-1 ablation packs"; rm -f "$OUT"/A-stage1.pack.* "$OUT"/B-stage1-no-clm.pack.*
fi
say "finished"; ls -la "$OUT"; du -cb "$OUT"/* | tail -1
