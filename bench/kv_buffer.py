"""What the in-place cache buffer saves per decode step: copied cache vs shared buffer.

    python bench/kv_buffer.py [--model BUNDLE] [--contexts 16 384 768] [--steps 30] [--threads 2]
                              [--out bench/results/kv_buffer.json]

For each context length, the same prompt (a standard-library file's first tokens) is prefilled
once each way, then greedy steps alternate between the two paths in one process, so machine load
hits both alike:
- `copied`: `SmolGraphs.step` with the cache as numpy arrays (each step feeds the whole cache in
  and gets a grown copy back: the runtime before `model.runtime.kv_buffer`);
- `in_place`: `SmolGraphs.advance` on a `KVBuffer` (the present outputs bound to the past inputs'
  memory, what the runtime does now).
Reports the median ms per step of each and their ratio, and the largest logit difference.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import sysconfig
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from report_tools import write_report  # noqa: E402  (bench/report_tools.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--contexts", type=int, nargs="+", default=[16, 384, 768])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "kv_buffer.json"))
    args = ap.parse_args()
    import numpy as np

    from model.runtime.packed import default_bundle_dir
    from model.runtime.smol_runtime import SmolRuntime

    rt = SmolRuntime.load(args.model or default_bundle_dir(), threads=args.threads)
    g = rt.graphs
    if not g.shares_buffer:
        raise SystemExit("this bundle's decoder graph is not the fused one: nothing to compare")
    cross, emask = g.cross_inputs(None)
    text = (Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py").read_text(encoding="utf-8") * 3
    ids = rt._need_decoder().dec_encode(text)
    rows = {}
    for n in args.contexts:
        logits, past = g.step([ids[:n]], g.empty_past(1), cross, emask)
        buf = g.new_buffer(n + args.steps)
        g.advance(ids[:n], buf, cross, emask)
        copied, in_place, diff = [], [], 0.0
        tok = int(np.argmax(logits[0]))
        for _ in range(args.steps):
            t0 = time.perf_counter()
            logits, past = g.step([[tok]], past, cross, emask)
            copied.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            out = g.advance([tok], buf, cross, emask)
            in_place.append((time.perf_counter() - t0) * 1000)
            diff = max(diff, float(np.abs(out[-1] - logits[0]).max()))
            tok = int(np.argmax(logits[0]))
        a, b = statistics.median(copied), statistics.median(in_place)
        rows[str(n)] = {"copied_ms": round(a, 2), "in_place_ms": round(b, 2), "ratio": round(b / a, 2),
                        "max_logit_diff": diff}
        print(f"context {n:5d}: copied {a:.2f} ms, in place {b:.2f} ms, ratio {b / a:.2f}", file=sys.stderr)
    report = {"bench": "kv_buffer", "threads": args.threads, "steps": args.steps,
              "command": "python bench/kv_buffer.py " + " ".join(sys.argv[1:]),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "contexts": rows}
    write_report(report, Path(args.out))


if __name__ == "__main__":
    main()
