#!/usr/bin/env bash
# Evaluate a bundle on the held-out sets, each task with its baselines in the same run, and save
# the JSON reports (the numbers in model/MODEL_CARD.md come from here).
#
#   usage: bash bench/eval_bundle.sh BUNDLE HELDOUT_DIR OUT_DIR [TASK...]
#
# HELDOUT_DIR is `<corpus>/heldout` from `codet5p-train corpus`; TASKs default to
# retrieval summarize complete humaneval. Retrieval is also recorded in the bundle's manifest
# (the server reads it). Runs on the CPU with one runtime thread, like the server on a laptop.
# Knobs for slower models (environment): LIMIT=N scores the first N rows of summarize and
# complete; RERANK="--rerank-k 10 --rerank-queries 100" re-ranks a subset of queries; THREADS.
set -euo pipefail
BUNDLE=${1:?usage: bench/eval_bundle.sh BUNDLE HELDOUT_DIR OUT_DIR [TASK...]}
HELDOUT=${2:?heldout dir}
OUT=${3:?output dir}
shift 3
TASKS=${*:-retrieval summarize complete humaneval}
PY=${PYTHON:-python}
mkdir -p "$OUT"
for task in $TASKS; do
  case $task in
    retrieval) extra=(--data "$HELDOUT/retrieval.jsonl" --baselines --record ${RERANK:-}) ;;
    summarize) extra=(--data "$HELDOUT/summarize.jsonl" --baselines ${LIMIT:+--limit $LIMIT}) ;;
    complete) extra=(--data "$HELDOUT/complete.jsonl" --baselines ${LIMIT:+--limit $LIMIT}) ;;
    humaneval) extra=() ;;
    *) echo "unknown task $task" >&2; exit 2 ;;
  esac
  echo "== $task"
  "$PY" -m training.cli eval "$task" --bundle "$BUNDLE" "${extra[@]}" --threads "${THREADS:-1}" --out "$OUT/$task.json"
done
