#!/usr/bin/env python
"""How much retrieval signal a model's encoder states carry before any contrastive training.

Scores held-out retrieval (query i's gold is code i, pool = every code) with parameter-free
poolings of one model, each raw and mean-centred over the pool:
- `token embeddings, mean`: the mean of the model's own input token embeddings (a bag of words);
- `encoder, first position`: the encoder's last state at `<s>` (what the embedding head reads);
- `encoder, mean`: the encoder's last states averaged over the sequence;
- `embedding head`: the model's own embedding (`proj` of the first position, L2-normalised).
If the encoder scores far below the bag of its own input tokens, the contrastive objective
starts with little signal to amplify and its in-batch loss sits near ln(batch) for a long time.

    python bench/embedding_signal.py MODEL_DIR [MODEL_DIR...] --heldout heldout/retrieval.jsonl
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def poolings(model, tok, texts: list[str], max_length: int, batch: int = 50) -> dict[str, np.ndarray]:
    import torch

    from model.formats import embedding_input, pad_batch

    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(texts), batch):
        ids, mask = pad_batch([embedding_input(tok, t, max_length) for t in texts[i:i + batch]], tok.pad_id)
        ids_t, mask_t = torch.tensor(ids), torch.tensor(mask)
        with torch.no_grad():
            hidden = model.encoder(input_ids=ids_t, attention_mask=mask_t).last_hidden_state
            m = mask_t.unsqueeze(-1).float()
            out = {"token embeddings, mean": (model.shared(ids_t) * m).sum(1) / m.sum(1),
                   "encoder, first position": hidden[:, 0],
                   "encoder, mean": (hidden * m).sum(1) / m.sum(1)}
            if model.proj is not None:
                out["embedding head"] = model.embed_from_hidden(hidden)
        for k, v in out.items():
            parts.setdefault(k, []).append(v.float().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


def mrr_of(q: np.ndarray, c: np.ndarray) -> float:
    from training.eval.metrics import gold_ranks, mrr

    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    c = c / np.linalg.norm(c, axis=1, keepdims=True)
    return round(float(mrr(gold_ranks(q.astype(np.float64) @ c.astype(np.float64).T))), 4)


def main() -> None:
    import torch

    from model.modeling import load_model_dir
    from report_tools import chance_mrr, model_labels, models_parser, write_report
    from training.eval.data import read_jsonl

    args = models_parser(__doc__, "retrieval held-out JSONL", 1000, "held-out rows (the pool size)").parse_args()
    torch.set_num_threads(args.threads)
    rows = read_jsonl(args.heldout, "retrieval")[: args.limit]
    n = len(rows)
    report = {"pool": n, "chance_mrr": chance_mrr(n), "models": {}}
    for directory, label in zip(args.models, model_labels(args.models)):
        model, tok = load_model_dir(directory)
        model.eval()
        q = poolings(model, tok, [r["query"] for r in rows], 64)
        c = poolings(model, tok, [r["code"] for r in rows], 256)
        report["models"][label] = {
            k: {"mrr": mrr_of(q[k], c[k]), "mrr_centred": mrr_of(q[k] - q[k].mean(0), c[k] - c[k].mean(0))}
            for k in q}
    write_report(report, args.out)


if __name__ == "__main__":
    main()
