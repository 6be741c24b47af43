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
from dataclasses import dataclass

from datasketch import LeanMinHash, MinHash, MinHashLSH

from training.eval.text import normalise_code

NUM_PERM = 128


def shingles(normalised: str) -> list[bytes]:
    """Token-multiset shingles of already normalised code (`text.normalise_code`)."""
    seen: Counter = Counter()
    out = []
    for tok in normalised.split():
        seen[tok] += 1
        out.append(f"{tok}\x00{seen[tok]}".encode("utf-8"))
    return out


@dataclass(frozen=True)
class Fingerprint:
    """Exact key (digest of the normalised code) and MinHash of one snippet."""

    key: bytes
    sig: LeanMinHash


def fingerprint(code: str, num_perm: int = NUM_PERM) -> Fingerprint:
    """Normalise once; digest for exact duplicates, MinHash of the token multiset for near ones."""
    normalised = normalise_code(code)
    m = MinHash(num_perm=num_perm, seed=1)
    sh = shingles(normalised)
    if sh:
        m.update_batch(sh)
    key = hashlib.blake2b(normalised.encode("utf-8"), digest_size=16).digest()
    return Fingerprint(key, LeanMinHash(m))


class NearDupIndex:
    """A growing set of code snippets answering "is this a near-duplicate of one of them?"."""

    def __init__(self, threshold: float = 0.8, num_perm: int = NUM_PERM) -> None:
        self.threshold, self.num_perm = threshold, num_perm
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.exact: set[bytes] = set()
        self.sigs: dict[int, LeanMinHash] = {}

    def __len__(self) -> int:
        return len(self.exact)

    def add(self, code: str | Fingerprint) -> None:
        fp = code if isinstance(code, Fingerprint) else fingerprint(code, self.num_perm)
        if fp.key in self.exact:
            return
        self.exact.add(fp.key)
        idx = len(self.sigs)
        self.sigs[idx] = fp.sig
        self.lsh.insert(idx, fp.sig)

    def is_duplicate(self, code: str | Fingerprint) -> bool:
        """True when `code` equals (normalised) or near-duplicates something in the index."""
        fp = code if isinstance(code, Fingerprint) else fingerprint(code, self.num_perm)
        if fp.key in self.exact:
            return True
        if not self.sigs:
            return False
        return any(self.sigs[i].jaccard(fp.sig) >= self.threshold for i in self.lsh.query(fp.sig))
