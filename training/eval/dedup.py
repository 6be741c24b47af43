"""Near-duplicate detection for held-out sets: exact-normalised code or MinHash Jaccard >= 0.8.

Code is reduced to its Python tokens (comments and layout dropped, `text.normalise_code`);
the shingles are the token multiset (each token tagged with its occurrence number, so set
Jaccard equals multiset Jaccard). MinHash (datasketch, 128 permutations, SHA-1 based and so
deterministic across runs) with LSH finds candidates; a candidate counts when its estimated
Jaccard is at least the threshold.
"""
from __future__ import annotations

import hashlib
from collections import Counter

from datasketch import LeanMinHash, MinHash, MinHashLSH

from training.eval.text import normalise_code

NUM_PERM = 128


def shingles(code: str) -> list[bytes]:
    """Token-multiset shingles of normalised code."""
    seen: Counter = Counter()
    out = []
    for tok in normalise_code(code).split():
        seen[tok] += 1
        out.append(f"{tok}\x00{seen[tok]}".encode("utf-8"))
    return out


def minhash(code: str, num_perm: int = NUM_PERM) -> LeanMinHash:
    """MinHash signature of the code's token multiset."""
    m = MinHash(num_perm=num_perm, seed=1)
    sh = shingles(code)
    if sh:
        m.update_batch(sh)
    return LeanMinHash(m)


def exact_key(code: str) -> bytes:
    """Digest of the normalised code (exact duplicates up to comments and layout)."""
    return hashlib.blake2b(normalise_code(code).encode("utf-8"), digest_size=16).digest()


class NearDupIndex:
    """A growing set of code snippets answering "is this a near-duplicate of one of them?"."""

    def __init__(self, threshold: float = 0.8, num_perm: int = NUM_PERM) -> None:
        self.threshold, self.num_perm = threshold, num_perm
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.exact: set[bytes] = set()
        self.sigs: dict[int, LeanMinHash] = {}

    def __len__(self) -> int:
        return len(self.exact)

    def add(self, code: str, sig: LeanMinHash | None = None) -> None:
        key = exact_key(code)
        if key in self.exact:
            return
        self.exact.add(key)
        sig = sig if sig is not None else minhash(code, self.num_perm)
        idx = len(self.sigs)
        self.sigs[idx] = sig
        self.lsh.insert(idx, sig)

    def is_duplicate(self, code: str, sig: LeanMinHash | None = None) -> bool:
        """True when `code` equals (normalised) or near-duplicates something in the index."""
        if exact_key(code) in self.exact:
            return True
        if not self.sigs:
            return False
        sig = sig if sig is not None else minhash(code, self.num_perm)
        return any(self.sigs[i].jaccard(sig) >= self.threshold for i in self.lsh.query(sig))
