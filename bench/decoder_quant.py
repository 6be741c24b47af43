"""Which decoder graph to build: speed and completion quality of each graph and weight format.

    python bench/decoder_quant.py --data <corpus>/heldout/complete.jsonl [--model BUNDLE]
                                  [--limit 300] [--threads 2] [--variants ...]
                                  [--out bench/results/decoder_quant.json]

Variants (`graph-weights[-head]`): `traced-int8` (the torch export with dynamic int8: the earlier
build and the baseline), `fused-fp32` (the fused graph unquantised: the quality reference),
`fused-int8` (dynamic int8, as the traced build), `fused-int8c` (the same with a scale per
output channel), `fused-int8b32` / `fused-int8b128` (8-bit `MatMulNBits`, blocks of 32 / 128,
int8 activations per block), `fused-int4` (layer weights int4
`MatMulNBits`, output projection int8), `fused-int4a` (the same with a zero point per block),
`fused-int4hqq` (zero points fitted by HQQ), `fused-q41` (the exact 4-bit copy of the GGUF's Q4_1
layer weights: blocks of 32 with their offsets, `fused_graph.q41_exact_matmuls`); the embedding table is int4 but in
`fused-int8b128-e8` (int8 rows, a scale per row) and `fused-int8b128-e32` (fp32) and `fused-int4-head4` (both int4);
`fused-int8b128-kv16` is `fused-int8b128` with a float16 self-attention cache (the others keep
it float32). Each variant is built once from the installed wheel into
`<cache>/bench-decoders/<variant>-<key>` and measured in its own process, one after another:
- ms per prefilled token (a 384-token prompt from an empty cache) and per generated token
  (greedy steps after it), medians of `--repeats`;
- line-completion EM / ES on the held-out rows (decoder-only mode, as `codet5p-train eval
  complete`), and the share of rows whose prediction equals the fp32 reference's;
- graph file size and the process's RSS after the run (and its peak).
Ratios are against `traced-int8` measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

VARIANTS = {"traced-int8": ("traced", "int8", "fp32"), "fused-fp32": ("fused", "fp32", "fp32"),
            "fused-int8": ("fused", "int8", "int8"), "fused-int8c": ("fused", "int8-channel", "int8"),
            "fused-int8b32": ("fused", "int8-block", "int8", 32), "fused-int8b128": ("fused", "int8-block", "int8", 128),
            "fused-int4": ("fused", "int4", "int8"), "fused-int4a": ("fused", "int4-asym", "int8"),
            "fused-int4hqq": ("fused", "int4-hqq", "int8"), "fused-q41": ("fused", "int4-q41", "int8", 128),
            "fused-int8b128-e8": ("fused", "int8-block", "int8", 128, "int8"),
            "fused-int8b128-e32": ("fused", "int8-block", "int8", 128, "fp32"),
            "fused-int4-head4": ("fused", "int4", "int4"),
            "fused-int8b128-kv16": ("fused", "int8-block", "int8", 128, "int4", "float16")}
BASELINE = "traced-int8"
REFERENCE = "fused-fp32"


def built_variant(bundle: Path, variant: str) -> Path:
    """The variant's decoder directory, built if missing."""
    from model.runtime.packed import cache_root
    from model.runtime.smol_runtime import DECODER_MANIFEST, decoder_build_key, read_smol_manifest
    from model.smol.export import build_decoder

    manifest = read_smol_manifest(bundle)
    out = cache_root() / "bench-decoders" / f"{variant}-{decoder_build_key(manifest)}"
    if not (out / DECODER_MANIFEST).is_file():
        graph, weights, head, *rest = VARIANTS[variant]
        t0 = time.perf_counter()
        build_decoder(bundle, out, weights=weights, head=head, graph=graph, block_size=rest[0] if rest else 32,
                      embedding=rest[1] if len(rest) > 1 else "int4", kv_cache=rest[2] if len(rest) > 2 else "float32")
        print(f"built {variant} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return out


def bundle_view(bundle: Path, decoder: Path, tmp: Path) -> Path:
    """A bundle directory whose `decoder/` is `decoder` (symlinks; nothing copied)."""
    view = tmp / "bundle"
    view.mkdir()
    for item in bundle.iterdir():
        if item.name != "decoder":
            (view / item.name).symlink_to(item.resolve())
    (view / "decoder").symlink_to(decoder)
    return view


def prompt_ids(runtime: Any, tokens: int) -> list[int]:
    text = (Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py").read_text(encoding="utf-8")
    ids = runtime._need_decoder().dec_encode(text)
    return ids[:tokens]


def timings(runtime: Any, tokens: int, steps: int, repeats: int) -> dict[str, float]:
    import numpy as np

    g = runtime.graphs
    cross, emask = g.cross_inputs(None)
    ids = prompt_ids(runtime, tokens)
    prefill, decode = [], []
    for _ in range(repeats):
        # the runtime's path: the fused graph fills a preallocated cache in place (`advance`),
        # the traced one copies its cache in and out (`step`)
        buf = g.new_buffer(len(ids) + steps) if g.shares_buffer else None
        t0 = time.perf_counter()
        if buf is not None:
            logits = g.advance(ids, buf, cross, emask)
        else:
            logits, past = g.step([ids], g.empty_past(1), cross, emask)
        prefill.append((time.perf_counter() - t0) * 1000 / len(ids))
        for _ in range(steps):
            tok = int(np.argmax(logits[-1]))
            t0 = time.perf_counter()
            if buf is not None:
                logits = g.advance([tok], buf, cross, emask)
            else:
                logits, past = g.step([[tok]], past, cross, emask)
            decode.append((time.perf_counter() - t0) * 1000)
    return {"prefill_ms_per_token": round(statistics.median(prefill), 3),
            "decode_ms_per_token": round(statistics.median(decode), 2), "prompt_tokens": len(ids),
            "decode_steps": steps * repeats, "cache": "in place" if g.shares_buffer else "copied"}


def measure_one(args: argparse.Namespace) -> dict[str, Any]:
    """Run in a child process: one variant's numbers (and its predictions)."""
    from model.runtime.smol_runtime import SmolRuntime

    bundle = Path(args.model)
    decoder = built_variant(bundle, args.one)
    record = json.loads((decoder / "decoder.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        runtime = SmolRuntime.load(bundle_view(bundle, decoder, Path(tmp)), threads=args.threads)
        out: dict[str, Any] = {"variant": args.one, "graph_mb": round(record["graph"]["size"] / 2**20, 1),
                               "quantization": record.get("quantization", {})}
        out.update(timings(runtime, args.prompt_tokens, args.steps, args.repeats))
        rows = [json.loads(line) for line in Path(args.data).read_text().splitlines() if line.strip()][:args.limit]
        preds: list[str] = []
        t0 = time.perf_counter()
        from model.runtime.api import GenerationConfig

        cfg = GenerationConfig(max_new_tokens=32, stop_at_newline=True)
        for r in rows:
            preds.append(runtime.complete(r["input"][-8000:], "", cfg, mode="causal").text.split("\n", 1)[0])
        from training.eval.metrics import completion_metrics

        out.update({k: round(v, 2) for k, v in completion_metrics(preds, [r["gt"] for r in rows]).items()})
        out["rows"] = len(rows)
        out["eval_seconds"] = round(time.perf_counter() - t0, 1)
        out["rss_mb"] = round(int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        out["predictions"] = preds
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="held-out complete.jsonl")
    ap.add_argument("--model", default=None, help="smol bundle (default: the shipped default)")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=384)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "decoder_quant.json"))
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.model is None:
        from model.runtime.packed import default_bundle_dir

        args.model = str(default_bundle_dir())
    if args.one:
        json.dump(measure_one(args), sys.stdout)
        return
    results: dict[str, Any] = {}
    for variant in args.variants:  # built first, so no build is inside a measured process
        built_variant(Path(args.model), variant)
    for variant in args.variants:
        cmd = [sys.executable, __file__, "--one", variant, "--data", args.data, "--model", args.model,
               "--limit", str(args.limit), "--threads", str(args.threads), "--prompt-tokens",
               str(args.prompt_tokens), "--steps", str(args.steps), "--repeats", str(args.repeats)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            results[variant] = {"error": done.stderr[-2000:]}
            print(f"{variant}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        results[variant] = json.loads(done.stdout)
        r = results[variant]
        print(f"{variant:18s} prefill {r['prefill_ms_per_token']:.2f} ms/tok  decode {r['decode_ms_per_token']:.1f} "
              f"ms/tok  EM {r['em']:.2f} ES {r['es']:.2f}  {r['graph_mb']} MB  RSS {r['rss_mb']} MB", file=sys.stderr)
    ref = results.get(REFERENCE, {}).get("predictions")
    base = results.get(BASELINE, {})
    for variant, r in results.items():
        if "error" in r:
            continue
        if ref:
            r["same_as_fp32"] = round(100 * sum(a == b for a, b in zip(r["predictions"], ref)) / len(ref), 1)
        if "decode_ms_per_token" in base:
            r["ratio_vs_" + BASELINE] = {
                "prefill": round(r["prefill_ms_per_token"] / base["prefill_ms_per_token"], 2),
                "decode": round(r["decode_ms_per_token"] / base["decode_ms_per_token"], 2)}
        r.pop("predictions")
    report = {"bench": "decoder_quant", "data": args.data, "threads": args.threads, "limit": args.limit,
              "model": args.model, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "variants": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({v: {k: r.get(k) for k in ("prefill_ms_per_token", "decode_ms_per_token", "em", "es",
                                                   "same_as_fp32", "graph_mb", "rss_mb")}
                      for v, r in results.items()}, indent=1))


if __name__ == "__main__":
    main()
