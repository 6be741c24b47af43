"""Exact and near-duplicate removal (MinHash LSH, Jaccard >= 0.8) across splits.

Files are offered split by split in priority order (test first, so the held-out standard library
is kept and any training copy of it is dropped); a file is kept only when no kept file has the
same normalised text (exact) or an estimated Jaccard similarity >= the threshold over 5-token
shingles (near).
"""
from __future__ import annotations

import hashlib
import re

from datasketch import MinHash, MinHashLSH

_TOKEN = re.compile(r"\w+|[^\w\s]")


def normalise(text: str) -> str:
    return "\n".join(l.rstrip() for l in text.strip().splitlines() if l.strip())


def shingles(text: str, n: int = 5) -> set[bytes]:
    toks = _TOKEN.findall(text)
    if len(toks) < n:
        return {" ".join(toks).encode()}
    return {" ".join(toks[i:i + n]).encode() for i in range(len(toks) - n + 1)}


class Deduper:
    """Keeps the first of every exact / near-duplicate group it is offered."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 64, shingle: int = 5) -> None:
        self.threshold, self.num_perm, self.shingle = threshold, num_perm, shingle
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.hashes: set[str] = set()
        self.sigs: dict[str, MinHash] = {}
        self._perm = MinHash(num_perm=num_perm, seed=1)  # shared permutations (speed)

    def minhash(self, text: str) -> MinHash:
        m = MinHash(num_perm=self.num_perm, seed=1, permutations=self._perm.permutations,
                    scheme=self._perm.scheme)
        m.update_batch(list(shingles(text, self.shingle)))
        return m

    def offer(self, key: str, text: str) -> str | None:
        """Keep `text` under `key` and return None, or return 'exact' / 'near' (dropped)."""
        digest = hashlib.sha256(normalise(text).encode()).hexdigest()
        if digest in self.hashes:
            return "exact"
        m = self.minhash(text)
        for other in self.lsh.query(m):
            if self.sigs[other].jaccard(m) >= self.threshold:
                return "near"
        self.hashes.add(digest)
        self.lsh.insert(key, m)
        self.sigs[key] = m
        return None


def jaccard(a: str, b: str, n: int = 5) -> float:
    """Exact Jaccard similarity of the shingle sets (for tests and audits)."""
    sa, sb = shingles(a, n), shingles(b, n)
    return len(sa & sb) / max(1, len(sa | sb))

