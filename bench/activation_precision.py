"""What the 8-bit decoder build loses to its int8 activations: the same weights, two `accuracy_level`s.

    python bench/activation_precision.py --data <heldout>/complete.jsonl [--limit 200] [--threads 2]
                                         [--out bench/results/activation_precision.json]

The shipped build's `MatMulNBits` nodes run at `accuracy_level` 4: each call quantises its
activations to int8 per block (ONNX Runtime's integer kernels). Level 1 keeps them fp32 and
de-quantises the weights instead. This script derives a level-1 copy of the installed build
(the weights untouched), then on the same held-out rows and in the same process measures each:
line-completion EM / ES (decoder-only, 768-token prompts, as `bench/prompt_budget.py`), the
median time of those cold completions, and one decoder step (1 new token at 700 cached tokens).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from report_tools import write_report  # noqa: E402  (bench/report_tools.py)


def with_accuracy_level(src: Path, dst: Path, level: int) -> None:
    """Copy the graph `src` to `dst` (weights in `dst.data`) with every MatMulNBits at `level`."""
    import onnx

    from model.smol.fused_graph import save_with_external_weights

    model = onnx.load(str(src))
    for node in model.graph.node:
        if node.op_type == "MatMulNBits":
            for attr in node.attribute:
                if attr.name == "accuracy_level":
                    attr.i = level
    save_with_external_weights(model, dst)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="held-out complete.jsonl")
    ap.add_argument("--model", default=None, help="smol bundle (default: the shipped default)")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "activation_precision.json"))
    args = ap.parse_args()

    import numpy as np
    import onnxruntime as ort

    from model.runtime import GenerationConfig
    from model.runtime.packed import default_bundle_dir
    from model.runtime.runtime import session_options
    from model.runtime.smol_runtime import SmolRuntime
    from training.eval.metrics import completion_metrics

    rt = SmolRuntime.load(args.model or str(default_bundle_dir()), threads=args.threads)
    if rt.decoder_dir is None or rt.graphs.decoder is None:
        raise SystemExit(f"no decoder build: {rt.decoder_message}")
    build = json.loads((rt.decoder_dir / "decoder.json").read_text())
    rows = [json.loads(line) for line in Path(args.data).read_text().splitlines() if line.strip()][:args.limit]
    golds = [r["gt"] for r in rows]
    cfg = GenerationConfig(max_new_tokens=32, stop_at_newline=True, max_source_length=768)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        level1 = Path(tmp) / "decoder.onnx"
        with_accuracy_level(rt.decoder_dir / build["graph"]["file"], level1, 1)
        sessions = {"4 (int8 activations, the build)": rt.graphs.decoder,
                    "1 (fp32 activations)": ort.InferenceSession(str(level1), session_options(args.threads, False),
                                                                 providers=["CPUExecutionProvider"])}
        for name, session in sessions.items():
            rt.graphs.decoder = session
            preds, times = [], []
            for r in rows:
                t0 = time.perf_counter()
                gen = rt.complete(r["input"][-8000:], "", cfg, mode="causal")
                times.append((time.perf_counter() - t0) * 1000)
                preds.append(gen.text.split("\n", 1)[0])
            m = completion_metrics(preds, golds)
            cross, mask = rt.graphs.cross_inputs(None)
            ids = [int(x) for x in np.random.RandomState(0).randint(100, 40000, size=701)]
            buf = rt.graphs.new_buffer(720)
            rt.graphs.advance(ids[:700], buf, cross, mask)
            steps = []
            for _ in range(10):
                t0 = time.perf_counter()
                rt.graphs.advance(ids[700:], buf, cross, mask)
                steps.append((time.perf_counter() - t0) * 1000)
                buf.truncate(700)
            results[name] = {"em": round(m["em"], 2), "es": round(m["es"], 2),
                             "cold_completion_p50_ms": round(statistics.median(times), 1),
                             "step_ms": round(statistics.median(steps), 2)}
            print(name, results[name], file=sys.stderr)
    report = {"bench": "activation_precision", "data": "<heldout>/complete.jsonl", "rows": len(rows),
              "threads": args.threads, "model": "the shipped default bundle" if not args.model else "<bundle>",
              "build_quantization": build.get("quantization", {}),
              "command": "python bench/activation_precision.py --data <heldout>/complete.jsonl "
                         f"--limit {args.limit}",
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "levels": results}
    write_report(report, Path(args.out))


if __name__ == "__main__":
    main()
