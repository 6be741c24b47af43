"""Decoding rules for one-sentence summaries, chosen on validation pairs, then the test set.

Two knobs of the runtime's greedy summaries: `no_repeat_ngram` (never repeat an n-gram of the
output: a 135M decoder sometimes loops, "the given position to the given position ...") and
`min_new_tokens` (no line break, quote, sentence end or end of sequence before that many
tokens: the summaries ran shorter than the references, and BLEU's brevity penalty charges each
short one). This bench summarises the validation pairs with the shipped runtime (int8 ONNX,
greedy, the server's prompt and stop rules) for every pair of `--sizes` x `--min-tokens`, picks
the pair with the best BLEU-4 there, and scores the held-out test rows with that pair, with the
runtime's defaults and with both rules off, in the same run; it also reports mean words per
summary and per reference. The validation rows are `--limit` pairs sampled over the whole file
(seed 0; the pair files are ordered by package, so their first rows are one package's); the test
rows are the file's first `--limit` (the held-out sets are already random samples).

    python bench/summary_decoding_ab.py BUNDLE --valid <corpus>/pairs/valid.jsonl \\
        --test <corpus>/heldout/summarize.jsonl --limit 300 --out bench/results/summary_decoding_ab.json
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report_tools import write_report  # noqa: E402
from model.runtime import Runtime  # noqa: E402
from model.runtime.smol_runtime import SUMMARY_MIN_TOKENS, SUMMARY_NO_REPEAT_NGRAM  # noqa: E402
from training.eval.data import read_jsonl, sample_rows  # noqa: E402
from training.eval.summarize import evaluate_summarize  # noqa: E402
from training.eval.text import first_sentence  # noqa: E402


def _score(runtime, rows: list[dict], n: int, shortest: int) -> dict:
    preds: list[str] = []
    report = evaluate_summarize(rows, runtime, no_repeat_ngram=n, min_new_tokens=shortest, predictions_out=preds)
    return {"bleu4": report.systems["codet5p code->text"]["bleu4"],
            "words": statistics.mean(len(p.split()) for p in preds),
            "seconds": report.seconds["codet5p code->text"], "preds": preds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--valid", type=Path, required=True, help="validation pairs (the rules are chosen here)")
    ap.add_argument("--test", type=Path, required=True, help="held-out summarize rows (reported here)")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--sizes", type=int, nargs="+", default=[0, 3], help="no_repeat_ngram values (0: off)")
    ap.add_argument("--min-tokens", type=int, nargs="+", default=[0, 8, 11, 14], help="min_new_tokens values")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--examples", type=int, default=12, help="test rows shown with both rules' summaries")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    runtime = Runtime.load(args.bundle, threads=args.threads)
    valid_rows = sample_rows(read_jsonl(args.valid, "summarize"), args.limit)
    test_rows = read_jsonl(args.test, "summarize", args.limit)
    valid = {}
    for n, shortest in itertools.product(args.sizes, args.min_tokens):
        r = _score(runtime, valid_rows, n, shortest)
        valid[f"no_repeat_ngram={n} min_new_tokens={shortest}"] = {k: v for k, v in r.items() if k != "preds"}
        print(f"valid n={n} min={shortest}: BLEU-4 {r['bleu4']:.2f}, {r['words']:.1f} words ({r['seconds']:.0f} s)",
              file=sys.stderr)
    best = max(itertools.product(args.sizes, args.min_tokens),
               key=lambda c: valid[f"no_repeat_ngram={c[0]} min_new_tokens={c[1]}"]["bleu4"])
    test, preds = {}, {}
    default = (SUMMARY_NO_REPEAT_NGRAM, SUMMARY_MIN_TOKENS)
    for n, shortest in sorted({(0, 0), default, best}):
        r = _score(runtime, test_rows, n, shortest)
        preds[(n, shortest)] = r.pop("preds")
        test[f"no_repeat_ngram={n} min_new_tokens={shortest}"] = r
        print(f"test n={n} min={shortest}: BLEU-4 {r['bleu4']:.2f}, {r['words']:.1f} words", file=sys.stderr)
    refs = [first_sentence(r["docstring"]) for r in test_rows]
    valid_refs = [first_sentence(r["docstring"]) for r in valid_rows]
    examples = [{"reference": refs[i], "off": preds[(0, 0)][i], "chosen": preds[best][i]}
                for i in range(min(args.examples, len(refs)))]
    write_report({"bench": "summary_decoding_ab", "bundle": args.bundle.name, "rows": args.limit,
                  "valid_data": "<corpus>/pairs/" + args.valid.name, "test_data": "<corpus>/heldout/" + args.test.name,
                  "valid_sample": "seeded sample over the whole file (training.eval.data.sample_rows, seed 0)",
                  "reference_words_valid": statistics.mean(len(r.split()) for r in valid_refs),
                  "reference_words_test": statistics.mean(len(r.split()) for r in refs),
                  "valid": valid, "chosen": {"no_repeat_ngram": best[0], "min_new_tokens": best[1]},
                  "defaults": {"no_repeat_ngram": default[0], "min_new_tokens": default[1]},
                  "test": test, "examples": examples}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
