"""Does the code->text model re-rank search hits better than the matching head? (torch, CPU)

For the first `--queries` held-out queries: the embedding's top `--k` codes from the whole pool,
each re-scored by log P(query | code): the decoder reads the code's summary prompt (the one the
cross-attention was trained on, `summary_prompt_ids`, cut to `--prompt-tokens`), cross-attends
to the encoded code, and the query sentence + closing quotes is scored token by token (a query
likelihood model: for one query, ranking codes by P(query | code) needs no normaliser). Reports
MRR of the embedding, of the matching head, of the sum and mean log-likelihood, and of the
embedding fused with the likelihood (z-scored within the top k, weight `w`), over the same
queries, in one run.

    python bench/likelihood_rerank.py MODEL_DIR HELDOUT/retrieval.jsonl --queries 100 --out R.json
    python bench/likelihood_rerank.py MODEL_DIR <corpus>/pairs/valid.jsonl --pairs --limit 1000 ...

`--pairs` reads (docstring, code) pairs instead (the validation split, where the fusion weight
is chosen): query = docstring, pool = `--limit` distinct pairs sampled over the whole file (seed 0;
the file is ordered by package), and the `--queries` queries are spread evenly over that pool.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report_tools import write_report  # noqa: E402
from training.eval.data import sample_rows  # noqa: E402
from model.formats import IGNORE_INDEX  # noqa: E402
from model.smol.formats import SUMMARY_END, summary_prompt_ids  # noqa: E402
from model.smol.model_dir import load_smol_dir  # noqa: E402
from training.smol.objectives import generation_rows  # noqa: E402
from model.runtime.rerank import likelihood_fusion  # noqa: E402
from training.eval.metrics import mrr  # noqa: E402
from training.smol.validate import encoder_inputs, retrieval_mrr  # noqa: E402


@torch.no_grad()
def query_loglik(model, tok, query: str, codes: list[str], prompt_tokens: int, code_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum, mean) log P(query + closing quotes | code) per code."""
    target = tok.dec_encode(" ".join(query.split()) + SUMMARY_END)[:48]
    prompts = [summary_prompt_ids(tok, c, prompt_tokens) for c in codes]
    ids, mask, labels = generation_rows(tok, prompts, [target] * len(codes), model.model_config.pad_id)
    e_ids, e_mask = encoder_inputs(tok, codes, code_tokens, ids.device)
    cross = model.cross_keys_values(model.encode(e_ids, e_mask))
    states, _ = model.decode(ids, mask, None, cross, e_mask)
    scored = labels != IGNORE_INDEX
    logp = torch.log_softmax(model.logits(states).float(), -1)
    tok_lp = logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0] * scored
    total = tok_lp.sum(1)
    return total, total / scored.sum(1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("retrieval", type=Path)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--code-tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pairs", action="store_true", help="the data file holds docstring/code pairs")
    ap.add_argument("--limit", type=int, default=1000, help="pool size with --pairs")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, tok, _ = load_smol_dir(args.model_dir)
    rows = [json.loads(line) for line in args.retrieval.read_text().splitlines() if line.strip()]
    if args.pairs:
        seen: set[str] = set()
        rows = sample_rows([{"query": r["docstring"], "code": r["code"]} for r in rows
                            if not (r["code"] in seen or seen.add(r["code"]))], args.limit)
    pairs = [{"docstring": r["query"], "code": r["code"]} for r in rows]
    t0 = time.perf_counter()
    base_mrr, sim = retrieval_mrr(model, tok, pairs, 64, args.code_tokens)
    ranks: dict[str, list[int]] = {"embedding": []}
    weights = (0.25, 0.5, 1.0, 2.0)
    n = min(args.queries, len(rows))
    t_rerank = time.perf_counter()
    queries = [i * len(rows) // n for i in range(n)] if args.pairs else list(range(n))
    for q in queries:
        order = sim[q].argsort(descending=True).tolist()
        rank = order.index(q) + 1
        ranks["embedding"].append(rank)
        top = order[:args.k]
        total, mean = query_loglik(model, tok, rows[q]["query"], [rows[j]["code"] for j in top],
                                   args.prompt_tokens, args.code_tokens)
        cos = sim[q, top]
        scores = {"loglik sum": total, "loglik mean": mean}
        for w in weights:
            scores[f"embedding + {w} x loglik sum (z)"] = torch.from_numpy(
                likelihood_fusion(cos.numpy(), total.numpy(), w))
        for name, s in scores.items():
            if rank > args.k:
                ranks.setdefault(name, []).append(rank)
                continue
            new = [top[i] for i in s.argsort(descending=True).tolist()]
            ranks.setdefault(name, []).append(new.index(q) + 1)
        if (q + 1) % 20 == 0:
            print(f"{q + 1}/{n} queries, {time.perf_counter() - t_rerank:.0f} s", file=sys.stderr)
    per_query = (time.perf_counter() - t_rerank) / n
    results = {name: {"mrr": round(mrr(r), 4), "r@1": round(sum(x == 1 for x in r) / len(r), 3)}
               for name, r in ranks.items()}
    report = {"model_dir": str(args.model_dir), "data": args.retrieval.name, "pool": len(rows), "queries": n,
              "k": args.k, "prompt_tokens": args.prompt_tokens, "embedding_mrr_all_queries": round(base_mrr, 4),
              "rerank_s_per_query_torch_fp32": round(per_query, 2), "systems": results,
              "seconds": round(time.perf_counter() - t0, 1)}
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
