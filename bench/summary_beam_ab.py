"""Greedy vs beam search for one-sentence summaries, same model and rows, one run (torch, CPU).

The runtime summarises greedily. This bench asks whether beams would lift BLEU-4 enough to pay
for them: each row is summarised with the server's prompt and stop rules, greedily and with
`--beams` beams (log-probability / length^alpha), and both are scored against the first sentence
of the docstring.

    python bench/summary_beam_ab.py MODEL_DIR <corpus>/heldout/summarize.jsonl --limit 100 --beams 4
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
from model.pysource import strip_docstring  # noqa: E402
from model.runtime.decoding import newline_cut  # noqa: E402
from model.smol.formats import SUMMARY_END, first_sentence_of_summary, summary_prompt_ids  # noqa: E402
from model.smol.model_dir import load_smol_dir  # noqa: E402
from training.data.docstrings import first_sentence  # noqa: E402
from training.eval.bleu import corpus_smoothed_bleu  # noqa: E402
from training.smol.validate import encoder_inputs  # noqa: E402


def _finished(tok, ids: list[int]) -> bool:
    text = tok.dec_decode(ids)
    return SUMMARY_END in text or newline_cut(text) is not None


@torch.no_grad()
def beam_summary(model, tok, code: str, beams: int, max_new: int = 40, alpha: float = 1.0,
                 prompt_tokens: int = 256) -> str:
    """Beam search (beams = 1: greedy) with the runtime's prompt and stop rules."""
    c = model.model_config
    eos = set(c.eos_ids)
    code = strip_docstring(code)
    prompt = summary_prompt_ids(tok, code, prompt_tokens)
    e_ids, e_mask = encoder_inputs(tok, [code], c.max_source_length, torch.device("cpu"))
    cross = model.cross_keys_values(model.encode(e_ids, e_mask))
    states, past = model.decode(torch.tensor([prompt]), None, None, cross, e_mask)
    logp = torch.log_softmax(model.logits(states[:, -1]).float(), -1)[0]
    live = [([], 0.0)]  # (ids, sum log p)
    done: list[tuple[float, list[int]]] = []
    for step in range(max_new):
        cand = []
        for b, (ids, score) in enumerate(live):
            top = torch.topk(logp[b] if logp.dim() == 2 else logp, beams)
            for lp, t in zip(top.values.tolist(), top.indices.tolist()):
                cand.append((score + lp, b, t))
        cand.sort(key=lambda x: -x[0])
        new, rows = [], []
        for score, b, t in cand:
            ids = live[b][0] + [t]
            if t in eos or _finished(tok, ids):
                done.append((score / (len(ids) ** alpha), ids if t not in eos else ids[:-1]))
            else:
                new.append((ids, score))
                rows.append(b)
            if len(new) == beams:
                break
        if len(done) >= beams or not new:
            break
        idx = torch.tensor(rows)
        past = [(k[idx], v[idx]) for k, v in past]
        cross_b = [(k[:1].expand(len(rows), -1, -1, -1), v[:1].expand(len(rows), -1, -1, -1)) for k, v in cross]
        mask = e_mask[:1].expand(len(rows), -1)
        states, past = model.decode(torch.tensor([[ids[-1]] for ids, _ in new]), None, past, cross_b, mask)
        logp = torch.log_softmax(model.logits(states[:, -1]).float(), -1)
        live = new
    if not done:
        done = [(s / (len(ids) ** alpha), ids) for ids, s in live]
    best = max(done, key=lambda x: x[0])[1]
    return first_sentence(first_sentence_of_summary(tok.dec_decode(best)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--beams", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, tok, _ = load_smol_dir(args.model_dir)
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()][:args.limit]
    refs = [first_sentence(r["docstring"]) for r in rows]
    report = {"model_dir": args.model_dir.name, "data": args.data.name, "n": len(rows), "beams": args.beams,
              "alpha": args.alpha, "systems": {}}
    for name, k in (("greedy", 1), (f"beam {args.beams}", args.beams)):
        t = time.perf_counter()
        preds = [beam_summary(model, tok, r["code"], k, alpha=args.alpha) for r in rows]
        report["systems"][name] = {"bleu4": round(corpus_smoothed_bleu(refs, preds), 2),
                                   "s_per_summary": round((time.perf_counter() - t) / len(rows), 3),
                                   "examples": preds[:3]}
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
