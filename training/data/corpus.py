"""Build the corpus: licence filter, file filters, dedupe, split by distribution, pairs, data card.

`build_corpus(out_dir, train_dists, test_dists)` writes
- `files/{train,valid,test}.jsonl`: `{"text", "path", "dist", "version", "license", "split"}`
  (stage-1 source; the trainer tokenizes and chunks them);
- `pairs/{train,valid,test}.jsonl`: `{"docstring", "code", "path", "name", "dist", "license"}`;
- `data_card.json` / `data_card.md`;
- `heldout/` through `training.eval.heldout.build_heldout_sets` when that module is present.
Every split holds whole distributions; the test split is the standard library. Unreadable
files are counted and skipped.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from training.data.card import write_card
from training.data.dedupe import Deduper, normalise
from training.data.filters import drop_reason, is_permissive
from training.data.pairs import extract_pairs
from training.data.sources import Distribution

log = logging.getLogger(__name__)

SPLITS = ("test", "valid", "train")  # dedupe priority: earlier splits keep their files

METHOD = (
    "Python files from the standard library (test split) and pinned PyPI wheels (read as zip "
    "archives, never installed or imported). A distribution is kept when its licence metadata "
    "(License-Expression, License, or licence classifiers) is permissive. Files are dropped when "
    "unreadable/undecodable, over 1 MB, under 64 bytes, inside vendored directories, generated "
    "(markers or *_pb2.py) or minified (a line over 1000 characters or mean line length over 100). "
    "Exact duplicates (normalised text) and near duplicates (MinHash LSH over 5-token shingles, "
    "Jaccard >= threshold) are removed across all splits, test first. Splits hold whole "
    "distributions. Pairs are (first docstring sentence, function without docstring), taken by "
    "parsing with `ast`; a pair whose normalised code appeared in an earlier split is dropped."
)


def assign_splits(dists: list[Distribution], valid_fraction: float) -> dict[str, str]:
    """Distribution name -> train/valid, by a stable hash (no valid split under 5 distributions)."""
    n_valid = round(valid_fraction * len(dists)) if len(dists) >= 5 else 0
    if valid_fraction > 0 and len(dists) >= 5:
        n_valid = max(1, n_valid)
    ranked = sorted(dists, key=lambda d: hashlib.sha1(d.name.lower().encode()).hexdigest())
    valid = {d.name for d in ranked[:n_valid]}
    return {d.name: ("valid" if d.name in valid else "train") for d in dists}


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def build_corpus(out_dir: Path, train_dists: list[Distribution], test_dists: list[Distribution],
                 valid_fraction: float = 0.03, threshold: float = 0.8, heldout_n: int = 1000,
                 seed: int = 0, extra_card: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build every corpus product in `out_dir` and return the data card."""
    from training.metrics import git_revision

    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    split_of = {d.name: "test" for d in test_dists}
    split_of.update(assign_splits(train_dists, valid_fraction))
    dropped: Counter[str] = Counter()
    rejected: dict[str, str] = {}
    kept_dists: dict[str, list[Distribution]] = {s: [] for s in SPLITS}
    candidates: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for i, dist in enumerate(test_dists + train_dists):
        if dist.kind != "stdlib" and not is_permissive(dist.license, dist.classifiers):
            rejected[dist.name] = dist.license
            continue
        split = split_of[dist.name]
        kept_dists[split].append(dist)
        for rel, raw in dist.files():
            reason, text = drop_reason(rel, raw)
            if reason:
                dropped[reason] += 1
                continue
            candidates[split].append({"text": text, "path": f"{dist.name}/{rel}", "dist": dist.name,
                                      "version": dist.version, "license": dist.license or "unknown",
                                      "split": split, "_file": str(dist.location / rel) if dist.kind != "wheel" else ""})
        if (i + 1) % 20 == 0:
            log.info("read %d/%d distributions", i + 1, len(test_dists) + len(train_dists))
    deduper = Deduper(threshold=threshold)
    kept: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for split in SPLITS:
        for row in candidates[split]:
            verdict = deduper.offer(row["path"], row["text"])
            if verdict:
                dropped[f"{verdict}_duplicate"] += 1
            else:
                kept[split].append(row)
        log.info("dedupe: %s keeps %d of %d files", split, len(kept[split]), len(candidates[split]))
    del candidates
    # pairs
    pair_hashes: set[str] = set()
    pair_dups = 0
    syntax_errors = 0
    pairs: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for split in SPLITS:
        for row in kept[split]:
            try:
                found = list(extract_pairs(row["text"]))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                syntax_errors += 1
                continue
            for p in found:
                h = hashlib.sha256(normalise(p["code"]).encode()).hexdigest()
                if h in pair_hashes:
                    pair_dups += 1
                    continue
                pair_hashes.add(h)
                pairs[split].append({**p, "path": row["path"], "dist": row["dist"], "license": row["license"]})
    licenses: Counter[str] = Counter()
    splits_card: dict[str, Any] = {}
    for split in SPLITS:
        for row in kept[split]:
            licenses[row["license"]] += 1
        _write_jsonl(out_dir / "files" / f"{split}.jsonl",
                     ({k: v for k, v in r.items() if k != "_file"} for r in kept[split]))
        _write_jsonl(out_dir / "pairs" / f"{split}.jsonl", pairs[split])
        splits_card[split] = {
            "distributions": len(kept_dists[split]),
            "distribution_names": sorted(d.name for d in kept_dists[split]),
            "files": len(kept[split]),
            "bytes": sum(len(r["text"].encode()) for r in kept[split]),
            "lines": sum(r["text"].count("\n") + 1 for r in kept[split]),
            "pairs": len(pairs[split]),
        }
    card: dict[str, Any] = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git_revision": git_revision(),
        "splits": splits_card,
        "licenses": dict(licenses),
        "dropped_files": dict(dropped),
        "rejected_distributions": rejected,
        "pair_duplicates": pair_dups,
        "syntax_errors": syntax_errors,
        "near_dedupe": {"method": "MinHash LSH", "threshold": threshold, "num_perm": 64, "shingle": 5},
        "tokens": {},
        "method": METHOD,
        "build_seconds": round(time.perf_counter() - t0, 1),
        **(extra_card or {}),
    }
    test_files = [Path(r["_file"]) for r in kept["test"] if r["_file"]]
    card["heldout"] = build_heldout(out_dir, test_files, heldout_n, seed)
    write_card(out_dir, card)
    log.info("corpus: %s", {s: (v["files"], v["pairs"]) for s, v in splits_card.items()})
    return card


def build_heldout(out_dir: Path, test_files: list[Path], n: int, seed: int) -> dict[str, Any] | None:
    """Held-out evaluation sets via the evaluation package (skipped, with a log line, if absent)."""
    try:
        from training.eval.heldout import build_heldout_sets
    except ImportError as exc:
        log.warning("held-out sets not built: training.eval.heldout unavailable (%s)", exc)
        return None
    return build_heldout_sets(test_files, out_dir / "pairs" / "test.jsonl",
                              out_dir / "pairs" / "train.jsonl", out_dir / "heldout", n=n, seed=seed)
