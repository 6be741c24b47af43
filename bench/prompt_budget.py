"""How many prompt tokens completion should read: quality and cold latency per prefix budget.

    python bench/prompt_budget.py --data <corpus>/heldout/complete.jsonl [--model BUNDLE]
                                  [--budgets 128 256 384 512 768] [--limit 300] [--threads 2]
                                  [--out bench/results/prompt_budget.json]

For each budget (decoder prompt tokens, `GenerationConfig.max_source_length`), line completion on
the held-out rows in decoder-only mode, as `codet5p-train eval complete`: EM, ES and the median
time of one cold completion (empty prompt cache: the whole prompt is prefilled), with the
installed decoder build of the bundle. Every budget runs on the same rows in the same process.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from report_tools import write_report  # noqa: E402  (bench/report_tools.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default=None)
    ap.add_argument("--budgets", type=int, nargs="+", default=[128, 256, 384, 512, 768])
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "prompt_budget.json"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from model.runtime.api import GenerationConfig
    from model.runtime.packed import default_bundle_dir
    from model.runtime.smol_runtime import SmolRuntime
    from training.eval.metrics import completion_metrics

    model = args.model or str(default_bundle_dir())
    rt = SmolRuntime.load(model, threads=args.threads)
    rows = [json.loads(line) for line in Path(args.data).read_text().splitlines() if line.strip()][:args.limit]
    golds = [r["gt"] for r in rows]
    results = {}
    for budget in args.budgets:
        cfg = GenerationConfig(max_new_tokens=32, stop_at_newline=True, max_source_length=budget)
        preds, times, tokens = [], [], []
        for r in rows:
            t0 = time.perf_counter()
            gen = rt.complete(r["input"][-8000:], "", cfg, mode="causal")
            times.append((time.perf_counter() - t0) * 1000)
            tokens.append(len(gen.token_ids))
            preds.append(gen.text.split("\n", 1)[0])
        m = completion_metrics(preds, golds)
        results[str(budget)] = {"em": round(m["em"], 2), "es": round(m["es"], 2),
                                "cold_p50_ms": round(statistics.median(times), 1),
                                "generated_tokens_mean": round(statistics.mean(tokens), 2)}
        print(f"budget {budget:4d}: EM {m['em']:.2f} ES {m['es']:.2f} cold p50 {statistics.median(times):.0f} ms",
              file=sys.stderr)
    build = json.loads((rt.decoder_dir / "decoder.json").read_text()) if rt.decoder_dir else {}
    report = {"bench": "prompt_budget", "data": args.data, "rows": len(rows), "threads": args.threads,
              "model": model, "decoder": {"graph_kind": build.get("graph_kind", "traced"),
                                          "quantization": build.get("quantization", {})},
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "budgets": results}
    write_report(report, Path(args.out))


if __name__ == "__main__":
    main()
