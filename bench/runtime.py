"""Runtime speed: torch eager vs ONNX Runtime fp32 vs int8 on the `small` config (random weights).

Measures greedy generation of exactly 32 new tokens (KV cache on every side) and batch
embedding of 16 snippets, reporting the median of `--repeats` runs and the speed-up over torch.

    python bench/runtime.py [--threads 2] [--repeats 10] [--config small]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPT = "def read_config(path):\n    with open(path, encoding='utf-8') as f:\n        data = json.load(f)\n"
SNIPPETS = [PROMPT * (1 + i % 3) + f"# variant {i}\n" for i in range(16)]


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="small", help="named model config (default small)")
    parser.add_argument("--threads", type=int, default=2, help="torch and ORT intra-op threads")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per measurement")
    parser.add_argument("--tokens", type=int, default=32, help="new tokens per generation")
    args = parser.parse_args()

    import numpy as np
    import torch

    from model import formats
    from model.config import get_config
    from model.export import ExportOptions, export_model
    from model.modeling import build_model
    from model.runtime import GenerationConfig, Runtime
    from model.runtime.runtime import length_buckets
    from model.testing import tokenizer_corpus
    from model.tokenizer import CodeTokenizer

    torch.set_num_threads(args.threads)
    tok = CodeTokenizer.train(tokenizer_corpus(), vocab_size=600)
    config = get_config(args.config, dropout_rate=0.0)  # keep the full vocabulary size: realistic lm_head
    model = build_model(config, seed=0).eval()
    print(f"config {config.name}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, "
          f"{args.threads} threads, median of {args.repeats}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        bundle = export_model(model, tok, Path(tmp) / "bundle", ExportOptions(agreement_tokens=8))
        print(f"export + parity: {time.perf_counter() - t0:.1f} s", flush=True)
        fp32 = Runtime.load(bundle, threads=args.threads, precision="fp32", device="cpu")
        int8 = Runtime.load(bundle, threads=args.threads, precision="int8", device="cpu")
        example = formats.causal_prompt(tok, PROMPT)
        gen = GenerationConfig(max_new_tokens=args.tokens)
        enc = torch.tensor([example.encoder_ids])
        dec = torch.tensor([[config.decoder_start_token_id] + example.decoder_prefix])

        def torch_generate() -> object:
            with torch.no_grad():
                out = model.generate(input_ids=enc, attention_mask=torch.ones_like(enc), decoder_input_ids=dec,
                                     max_new_tokens=args.tokens, min_new_tokens=args.tokens, do_sample=False,
                                     num_beams=1, use_cache=True)
            assert out.shape[1] == dec.shape[1] + args.tokens
            return out

        def ort_generate(rt: Runtime) -> Callable[[], object]:
            def run() -> object:
                g = rt.generate(example, gen, end_ids=frozenset())
                assert len(g.token_ids) == args.tokens
                return g
            return run

        # torch gets the same length-bucketed batches as the runtime (a fair comparison)
        enc_ids = [formats.embedding_input(tok, s) for s in SNIPPETS]
        batches = []
        for chunk in length_buckets([len(x) for x in enc_ids], 16):
            ids, mask = formats.pad_batch([enc_ids[i] for i in chunk], tok.pad_id)
            batches.append((torch.tensor(ids), torch.tensor(mask)))

        def torch_embed() -> object:
            with torch.no_grad():
                return [model.embed(i, m) for i, m in batches]

        rows = [("generate 32 tokens", median_ms(torch_generate, args.repeats),
                 median_ms(ort_generate(fp32), args.repeats), median_ms(ort_generate(int8), args.repeats)),
                (f"embed batch of {len(SNIPPETS)}", median_ms(torch_embed, args.repeats),
                 median_ms(lambda: fp32.embed(SNIPPETS), args.repeats),
                 median_ms(lambda: int8.embed(SNIPPETS), args.repeats))]
        one = int8.generate(example, GenerationConfig(max_new_tokens=1), end_ids=frozenset()).latency_ms
        cos = float(np.mean(np.sum(fp32.embed(SNIPPETS) * int8.embed(SNIPPETS), axis=1)))
    print()
    print(f"| {'task':<22} | {'torch eager ms':>14} | {'ORT fp32 ms':>11} | {'ORT int8 ms':>11} "
          f"| {'fp32 speed-up':>13} | {'int8 speed-up':>13} |")
    print(f"|{'-' * 24}|{'-' * 16}|{'-' * 13}|{'-' * 13}|{'-' * 15}|{'-' * 15}|")
    for name, t, f, q in rows:
        print(f"| {name:<22} | {t:>14.1f} | {f:>11.1f} | {q:>11.1f} | {t / f:>12.2f}x | {t / q:>12.2f}x |")
    print(f"\nint8 first token (encoder + prefix pass): {one:.1f} ms; "
          f"mean cosine(fp32, int8 embeddings) = {cos:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
