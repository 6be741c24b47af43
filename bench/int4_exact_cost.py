"""What an exact int4 copy of the GGUF's Q4_1 weights costs in ONNX Runtime, per MatMul.

    python bench/int4_exact_cost.py [--threads 2] [--repeats 20]
                                    [--out bench/results/int4_exact_cost.json]

SmolLM2's layer weights are Q4_1 in the GGUF: w = d*q + m per block of 32, q in 0..15, with a
float scale d and a float offset m. `MatMulNBits` takes a 4-bit q with a scale and an integer
zero point (or a float one, which takes its slow path), so the exact form is
`MatMulNBits(x, q, d)` (zero point 8) plus a correction `blocksum(x) @ (m + 8d)`: a Reshape,
a ReduceSum, a small MatMul and an Add after each of the four MatMuls of a layer. This times,
on random weights of the decoder's two shapes (576 -> 3072: gate and up; 1536 -> 576: down), a
chain of 30 such MatMuls per graph, one token (a decode step) and 384 tokens (a prefill), for:
8-bit blocks of 128 (the build), 8-bit blocks of 32, 4-bit blocks of 32, the same with the
exact-Q4_1 correction, and 4-bit blocks of 128. All with int8 activations (`accuracy_level`
4), the session options of the runtime, each graph in turn in one process.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHAIN = 30  # one MatMul of each layer
VARIANTS = {"8-bit, block 128 (the build)": (8, 128, False), "8-bit, block 32": (8, 32, False),
            "4-bit, block 32": (4, 32, False), "4-bit, block 32, exact Q4_1 (correction)": (4, 32, True),
            "4-bit, block 128": (4, 128, False)}


def chain_graph(k: int, n: int, bits: int, block: int, corrected: bool) -> Any:
    """CHAIN independent MatMulNBits of x [1, T, k] -> [1, T, n], each reduced to [1, T, 1] and
    those summed (so none is pruned and the glue stays small next to the MatMuls). `corrected`:
    MatMuls of weights on a Q4_1 grid, rewritten by the build's own `q41_exact_matmuls`."""
    from model.smol.fused_graph import q41_exact_matmuls

    rng = np.random.default_rng(0)
    blocks = -(-k // block)
    inits, nodes, outs = [], [], []
    for r in range(CHAIN):
        y = f"y{r}"
        if corrected:
            q = rng.integers(0, 16, (k // 32, 32, n)).astype(np.float32)
            q[:, 0], q[:, 1] = 0, 15  # every block spans q = 0..15, as Q4_1's do
            d = rng.random((k // 32, 1, n), dtype=np.float32) * 0.01
            m = rng.standard_normal((k // 32, 1, n)).astype(np.float32) * 0.01
            inits.append(numpy_helper.from_array((d * q + m).reshape(k, n), f"W{r}"))
            nodes.append(helper.make_node("MatMul", ["x", f"W{r}"], [y], name=f"m{r}"))
        else:
            if bits == 4:
                q4 = rng.integers(0, 16, (n, blocks, block), dtype=np.uint8)
                packed = (q4[..., 0::2] | (q4[..., 1::2] << 4)).astype(np.uint8)
            else:
                packed = rng.integers(0, 256, (n, blocks, block), dtype=np.uint8)
            scales = (rng.random(n * blocks, dtype=np.float32) * 0.01).astype(np.float32)
            inits += [numpy_helper.from_array(packed, f"B{r}"), numpy_helper.from_array(scales, f"s{r}")]
            nodes.append(helper.make_node("MatMulNBits", ["x", f"B{r}", f"s{r}"], [y], domain="com.microsoft",
                                          K=k, N=n, bits=bits, block_size=block, accuracy_level=4))
        nodes.append(helper.make_node("ReduceMax", [y, "last"], [f"z{r}"], keepdims=1))
        outs.append(f"z{r}")
    nodes.append(helper.make_node("Sum", outs, ["out"]))
    inits.append(numpy_helper.from_array(np.array([-1], np.int64), "last"))
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "T", k])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, "T", 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)])
    if corrected:
        q41_exact_matmuls(model, {f"m{r}" for r in range(CHAIN)})
    return model


def ms_per_matmul(model: Any, tokens: int, threads: int, repeats: int) -> float:
    import onnxruntime as ort

    from model.runtime.runtime import session_options

    session = ort.InferenceSession(model.SerializeToString(), session_options(threads, False),
                                   providers=["CPUExecutionProvider"])
    k = model.graph.input[0].type.tensor_type.shape.dim[2].dim_value
    x = np.random.default_rng(1).standard_normal((1, tokens, k)).astype(np.float32)
    for _ in range(3):
        session.run(None, {"x": x})
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        session.run(None, {"x": x})
        times.append((time.perf_counter() - t0) * 1000 / CHAIN)
    return round(statistics.median(times), 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "int4_exact_cost.json"))
    args = ap.parse_args()
    import onnxruntime as ort

    rows: dict[str, Any] = {}
    for k, n in ((576, 3072), (1536, 576)):
        shape = f"{k} -> {n}"
        rows[shape] = {}
        for name, (bits, block, corrected) in VARIANTS.items():
            model = chain_graph(k, n, bits, block, corrected)
            rows[shape][name] = {"decode_ms": ms_per_matmul(model, 1, args.threads, args.repeats),
                                 "prefill_384_ms": ms_per_matmul(model, 384, args.threads, max(3, args.repeats // 4))}
            print(shape, name, rows[shape][name], file=sys.stderr, flush=True)
        base = rows[shape]["8-bit, block 128 (the build)"]
        for r in rows[shape].values():
            r["vs_build"] = {"decode": round(r["decode_ms"] / base["decode_ms"], 2),
                             "prefill": round(r["prefill_384_ms"] / base["prefill_384_ms"], 2)}
    report = {"bench": "int4_exact_cost", "onnxruntime": ort.__version__, "threads": args.threads,
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "ms_per_matmul": rows}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
