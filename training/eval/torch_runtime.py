"""A trained model directory evaluated with torch, without exporting it first.

`TorchRuntime` has the part of `model.runtime.Runtime`'s interface that retrieval evaluation
uses (`embed`, `match_scores`, the `has_*` flags) and builds its inputs with the runtime's own
`embedding_ids` / `matching_pairs`, so an ablation checkpoint can be scored on
the machine that trained it (a GPU) and compared with an exported bundle. It has no decoder:
generation tasks are evaluated on exported bundles.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from model import formats
from model.runtime.runtime import embedding_ids, length_buckets, matching_pairs


class TorchRuntime:
    has_decoder = False

    def __init__(self, model_dir: str | Path, device: str = "auto") -> None:
        from model.modeling import load_model_dir

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model, self.tokenizer = load_model_dir(model_dir)
        self.model.eval().to(self.device)
        self.config = self.model.model_config
        self.has_embedding = self.model.proj is not None
        self.has_matching = self.model.itm_head is not None

    def _tensors(self, ids: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        padded, mask = formats.pad_batch(ids, self.tokenizer.pad_id)
        return (torch.tensor(padded, dtype=torch.long, device=self.device),
                torch.tensor(mask, dtype=torch.long, device=self.device))

    @torch.no_grad()
    def embed(self, texts: Sequence[str], batch_size: int = 16, max_length: int = 256) -> np.ndarray:
        """Unit-norm embeddings [n, embed_dim] (float32) of `texts`, in order."""
        ids = embedding_ids(self.tokenizer, texts, max_length)
        out = np.zeros((len(ids), self.config.embed_dim), dtype=np.float32)
        for chunk in length_buckets([len(x) for x in ids], max(1, batch_size)):
            input_ids, mask = self._tensors([ids[i] for i in chunk])
            out[chunk] = self.model.embed(input_ids, mask).float().cpu().numpy()
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    @torch.no_grad()
    def match_scores(self, text: str, codes: Sequence[str], batch_size: int = 16,
                     max_code_length: int = 256) -> np.ndarray:
        """P(match) of `text` with each of `codes` (softmax of the matching head, column 1)."""
        if not codes:
            return np.zeros((0,), dtype=np.float32)
        pairs = matching_pairs(self.tokenizer, text, codes, max_code_length)
        enc_ids, enc_mask = self._tensors([pairs[0][0]])
        hidden = self.model.encode(enc_ids, enc_mask)
        scores = np.zeros(len(codes), dtype=np.float32)
        order = sorted(range(len(codes)), key=lambda i: len(pairs[i][1]))
        for start in range(0, len(order), max(1, batch_size)):
            chunk = order[start:start + max(1, batch_size)]
            dec, dmask = self._tensors([pairs[i][1] for i in chunk])
            n = len(chunk)
            logits = self.model.match_logits(hidden.expand(n, -1, -1), enc_mask.expand(n, -1), dec, dmask)
            scores[chunk] = torch.softmax(logits.double(), dim=-1)[:, 1].float().cpu().numpy()
        return scores
