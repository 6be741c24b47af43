"""ONNX Runtime session options: speed and memory of the smol runtime under each policy.

    python bench/ort_session_options.py [--model BUNDLE] [--threads 2] [--rounds 4] [--context 700]
                                        [--out bench/results/ort_session_options.json]

Policies, each measured in its own process, `--rounds` times in turn (the machine is shared:
medians, and the ratios to `sleep` in the same run):
- `sleep`: intra-op workers never spin (`allow_spinning=0`): each parallel section wakes a
  sleeping worker (the earlier setting);
- `spin`: ONNX Runtime's default: workers spin between sections and go on spinning after a run;
- `run-only`: spin inside a run, stop at its end (`force_spinning_stop=1`);
- `run-only-no-arena`: the same without ONNX Runtime's CPU memory arena: the server's choice.

Per process, on the built decoder with `--context` cached tokens of a random prompt:
- `step_ms`: one decoder call with 1 new token, and with 7 (a drafted check);
- `greedy_ms_per_token`: 12 steps one after another with the argmax between them;
- `alternating`: an embedding call (the encoder session) and a decoder step taking turns, as
  search, indexing and completion do on the model thread: each one's median;
- `idle_cpu`: cores used while the process sleeps 0.5 s after a run (spinning left running);
- `rss_mb`: resident size after loading, and after three completions in three documents (their
  prompt caches held) and an embedding batch; `cold_completion_ms`: those completions' median.

`--weights-file` instead measures what the decoder session alone adds to a process's resident
size with the installed build's weights in their external file (as built) and with the same
weights inline in the graph (a temporary copy), each in its own process.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# name: (allow_spinning, force_spinning_stop, memory arena)
POLICIES = {"sleep": ("0", None, True), "spin": ("1", None, True), "run-only": ("1", "1", True),
            "run-only-no-arena": ("1", "1", False)}


def rss_mb() -> float:
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(model: str | None, policy: str, threads: int, context: int) -> dict[str, Any]:
    """One process's numbers for `policy` (its sessions' options patched before loading)."""
    import numpy as np

    import model.runtime.runtime as runtime_module
    import model.runtime.smol_runtime as smol_module
    from model.runtime import GenerationConfig, Runtime, default_bundle_dir

    import onnxruntime as ort

    allow, stop, arena = POLICIES[policy]

    def options(threads: int | None, spin: bool) -> Any:  # `session_options` under this policy
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = int(threads or 0)
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", allow)
        opts.add_session_config_entry("session.force_spinning_stop", stop or "0")
        opts.enable_cpu_mem_arena = arena
        return opts

    runtime_module.session_options = options
    smol_module.session_options = options
    rt = Runtime.load(model or str(default_bundle_dir()), threads=threads)
    out: dict[str, Any] = {"rss_mb": {"loaded": round(rss_mb(), 1)}}
    source = (REPO / "lsp_server" / "engine.py").read_text(encoding="utf-8")
    cold = []
    for doc in range(3):  # three documents' prompt caches, as a server keeps while you switch files
        t0 = time.perf_counter()
        rt.complete(source[:12000 + 500 * doc], "", GenerationConfig(max_new_tokens=16, max_source_length=768),
                    cache_key=f"doc-{doc}")
        cold.append((time.perf_counter() - t0) * 1000)
    rt.embed(["def read_config(path):\n    return json.load(open(path))\n" * 8] * 16)
    out["rss_mb"]["after_use"] = round(rss_mb(), 1)
    out["cold_completion_ms"] = round(statistics.median(cold), 1)
    graphs = rt.graphs
    cross, mask = graphs.cross_inputs(None)
    ids = [int(x) for x in np.random.RandomState(0).randint(100, 40000, size=context + 32)]
    buf = graphs.new_buffer(context + 32)
    graphs.advance(ids[:context], buf, cross, mask)
    for rows in (1, 7):
        times = []
        for _ in range(15):
            t0 = time.perf_counter()
            graphs.advance(ids[context:context + rows], buf, cross, mask, rows=rows)
            times.append((time.perf_counter() - t0) * 1000)
            buf.truncate(context)
        out[f"step_ms_{rows}_rows"] = round(statistics.median(times), 3)
    seq = []
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(12):
            logits = graphs.advance([ids[context + i]], buf, cross, mask)
            int(np.argmax(logits[-1]))
        seq.append((time.perf_counter() - t0) * 1000 / 12)
        buf.truncate(context)
    out["greedy_ms_per_token"] = round(statistics.median(seq), 3)
    texts = ["def read_config(path):\n    with open(path) as f:\n        return json.load(f)"] * 4
    emb, dec = [], []
    for _ in range(20):
        t0 = time.perf_counter()
        rt.embed(texts)
        emb.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        graphs.advance([ids[context]], buf, cross, mask)
        dec.append((time.perf_counter() - t0) * 1000)
        buf.truncate(context)
    out["alternating"] = {"embed_ms": round(statistics.median(emb), 3), "step_ms": round(statistics.median(dec), 3)}

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    graphs.advance([ids[context]], buf, cross, mask)
    c0 = cpu()
    time.sleep(0.5)
    out["idle_cpu"] = round((cpu() - c0) / 0.5, 3)
    return out


def session_rss(graph: str) -> float:
    """MB a decoder session on `graph` adds to this process (the server's session options)."""
    import onnxruntime as ort

    from model.runtime.runtime import session_options

    before = rss_mb()
    session = ort.InferenceSession(graph, session_options(2, False), providers=["CPUExecutionProvider"])
    grown = rss_mb() - before
    del session
    return round(grown, 1)


def weights_file_report(model: str | None) -> dict[str, Any]:
    """Decoder session RSS with the weights in an external file vs inline, one process each."""
    import tempfile

    import onnx

    from model.runtime.packed import default_bundle_dir
    from model.runtime.smol_runtime import SmolRuntime

    rt = SmolRuntime.load(model or str(default_bundle_dir()), threads=1)
    if rt.decoder_dir is None:
        raise SystemExit(f"no decoder build: {rt.decoder_message}")
    graph = rt.decoder_dir / json.loads((rt.decoder_dir / "decoder.json").read_text())["graph"]["file"]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        inline = Path(tmp) / "inline.onnx"
        onnx.save_model(onnx.load(str(graph)), str(inline))
        for name, path in (("external weights file (the build)", graph), ("weights inline", inline)):
            done = subprocess.run([sys.executable, __file__, "--session-rss", str(path)],
                                  capture_output=True, text=True, check=True)
            out[name] = float(done.stdout.strip().splitlines()[-1])
    return {"bench": "ort_session_options --weights-file", "decoder_session_rss_mb": out,
            "command": "python bench/ort_session_options.py --weights-file",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="smol bundle (default: the shipped default)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--context", type=int, default=700)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "ort_session_options.json"))
    ap.add_argument("--weights-file", action="store_true",
                    help="measure the decoder session with external vs inline weights instead")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--session-rss", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.session_rss:
        print(session_rss(args.session_rss))
        return
    if args.weights_file:
        report = weights_file_report(args.model)
        out = Path(args.out).with_name("ort_weights_file.json") if args.out.endswith("ort_session_options.json") \
            else Path(args.out)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        return
    if args.one:
        print(json.dumps(measure(args.model, args.one, args.threads, args.context)))
        return
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in POLICIES}
    for _ in range(args.rounds):
        for policy in POLICIES:
            cmd = [sys.executable, __file__, "--one", policy, "--threads", str(args.threads),
                   "--context", str(args.context)] + (["--model", args.model] if args.model else [])
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            runs[policy].append(json.loads(done.stdout.strip().splitlines()[-1]))

    def med(policy: str, *path: str) -> float:
        values = []
        for run in runs[policy]:
            v: Any = run
            for key in path:
                v = v[key]
            values.append(v)
        return round(statistics.median(values), 3)

    keys = [("step_ms_1_rows",), ("step_ms_7_rows",), ("greedy_ms_per_token",),
            ("alternating", "embed_ms"), ("alternating", "step_ms"), ("cold_completion_ms",),
            ("idle_cpu",), ("rss_mb", "loaded"), ("rss_mb", "after_use")]
    table = {p: {"/".join(k): med(p, *k) for k in keys} for p in POLICIES}
    ratios = {p: {k: round(v / table["sleep"][k], 3) if table["sleep"][k] else None
                  for k, v in row.items() if k != "idle_cpu"} for p, row in table.items()}
    report = {"bench": "ort_session_options",
              "command": "python bench/ort_session_options.py " + " ".join(sys.argv[1:]),
              "threads": args.threads, "context": args.context, "rounds": args.rounds,
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "medians": table, "ratio_to_sleep": ratios, "runs": runs}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"medians": table, "ratio_to_sleep": ratios}, indent=2))


if __name__ == "__main__":
    main()
