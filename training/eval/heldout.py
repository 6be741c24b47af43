"""Held-out evaluation sets (retrieval, summarize, complete) from the test split.

`build_heldout_sets` is called by `codet5p-train corpus`; `python -m training.eval.heldout`
builds the standard-library sets standalone. The sets are deterministic for a seed, hold at
least `n` examples each when the input allows, and leave out every example whose code is a
near-duplicate (exact after normalisation, or MinHash Jaccard >= 0.8) of a training pair or of
an example already taken. Code is parsed with `ast`/`tokenize` only, never executed.

- retrieval.jsonl: `{"query": first paragraph of the docstring, "code": function without its
  docstring, "path", "name"}`; n of them (the pool).
- summarize.jsonl: the same functions as `{"code", "docstring", "path", "name"}`.
- complete.jsonl: `{"input": file text up to the cursor, "gt": rest of the line, "suffix": the
  following lines, "path", "line"}`; the cursor is at a random token start of a random
  one-line statement, at most one example per file per round; lines inside a function that
  near-duplicates a training pair are skipped.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import re
import sys
import tokenize
from pathlib import Path
from typing import Any, Iterable

from training.eval.data import write_jsonl
from training.eval.dedup import NearDupIndex, fingerprint
from training.eval.pyfuncs import (enclosing_functions, iter_functions, read_source,
                                   stdlib_files, stdlib_root, strip_docstring)
from training.eval.text import first_paragraph, first_sentence, normalise_text

log = logging.getLogger(__name__)

MIN_SUMMARY_WORDS = 3
MIN_CODE_LINES = 3
MAX_QUERY_CHARS = 1000
MAX_INPUT_CHARS = 65536   # completion input keeps at most this much of the file before the cursor
MAX_SUFFIX_CHARS = 4000
_HAS_WORD = re.compile(r"\w")


def _read_pairs(path: Path | None, what: str) -> Iterable[dict[str, Any]]:
    if path is None:
        return
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} pairs file {path} does not exist")
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("code"), str) \
                    or not isinstance(row.get("docstring"), str):
                raise ValueError(f"{path}:{lineno}: a pair needs string 'docstring' and 'code'")
            yield row


def train_index(train_pairs_path: Path | None) -> NearDupIndex:
    """Near-duplicate index over the training pairs' code."""
    index = NearDupIndex()
    for row in _read_pairs(train_pairs_path, "train"):
        index.add(strip_docstring(row["code"]))
    log.info("near-duplicate index over %d distinct training functions", len(index))
    return index


def _pair_ok(row: dict[str, Any], code: str) -> bool:
    name = str(row.get("name", ""))
    if "test" in name.lower() or (name.startswith("__") and name.endswith("__")):
        return False
    if len(first_sentence(row["docstring"]).split()) < MIN_SUMMARY_WORDS:
        return False
    return len([ln for ln in code.splitlines() if ln.strip()]) >= MIN_CODE_LINES


def select_pairs(test_pairs_path: Path, train: NearDupIndex, n: int, seed: int,
                 stats: dict[str, int]) -> list[dict[str, Any]]:
    """Up to n test pairs: filtered, shuffled with `seed`, none near-duplicating train or each other."""
    rows = []
    for row in _read_pairs(test_pairs_path, "test"):
        code = strip_docstring(row["code"])
        if _pair_ok(row, code):
            rows.append((str(row.get("path", "")), str(row.get("name", "")), code, row))
    stats["pairs_candidates"] = len(rows)
    rows.sort(key=lambda r: (r[0], r[1], r[2]))  # input order does not matter
    random.Random(seed).shuffle(rows)
    taken: list[dict[str, Any]] = []
    seen = NearDupIndex()
    seen_queries: set[str] = set()
    for path, name, code, row in rows:
        if len(taken) >= n:
            break
        fp = fingerprint(code)
        if train.is_duplicate(fp):
            stats["pairs_excluded_train_dup"] = stats.get("pairs_excluded_train_dup", 0) + 1
            continue
        query_key = normalise_text(first_paragraph(row["docstring"]))
        if seen.is_duplicate(fp) or query_key in seen_queries:
            stats["pairs_excluded_self_dup"] = stats.get("pairs_excluded_self_dup", 0) + 1
            continue
        seen.add(fp)
        seen_queries.add(query_key)
        taken.append({"path": path, "name": name, "code": code, "docstring": row["docstring"]})
    return taken


def _statement_lines(text: str) -> list[tuple[int, list[int]]]:
    """(line number, token start columns) of logical lines that fit on one physical line."""
    out = []
    cols: list[int] = []
    first_line = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
                            tokenize.ENCODING, tokenize.ENDMARKER):
                continue
            if tok.type == tokenize.NEWLINE:
                if first_line is not None and tok.start[0] == first_line and cols:
                    out.append((first_line, cols))
                cols, first_line = [], None
                continue
            if first_line is None:
                first_line = tok.start[0]
            if tok.start[0] == first_line:
                cols.append(tok.start[1])
            else:
                first_line = -1  # spans several physical lines
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    return out


def _completion_example(path: Path, text: str, rng: random.Random, train: NearDupIndex,
                        used: set[int], stats: dict[str, int],
                        spans_cache: dict[Path, list[tuple[int, int]]]) -> dict[str, Any] | None:
    lines = text.splitlines(keepends=True)
    candidates = [(ln, cols) for ln, cols in _statement_lines(text) if ln not in used]
    if not candidates:
        return None
    line_no, cols = candidates[rng.randrange(len(candidates))]
    used.add(line_no)
    line = lines[line_no - 1].rstrip("\r\n")
    col = cols[rng.randrange(len(cols))]
    gt = line[col:].rstrip()
    if not _HAS_WORD.search(gt):
        stats["complete_skipped_punctuation_only"] = stats.get("complete_skipped_punctuation_only", 0) + 1
        return None
    if path not in spans_cache:
        spans_cache[path] = enclosing_functions(text)
    spans = [s for s in spans_cache[path] if s[0] <= line_no <= s[1]]
    if spans:
        start, end = max(spans)  # innermost: the latest start
        if train.is_duplicate("".join(lines[start - 1:end])):
            stats["complete_excluded_train_dup"] = stats.get("complete_excluded_train_dup", 0) + 1
            return None
    before = "".join(lines[:line_no - 1]) + line[:col]
    after = "".join(lines[line_no:])
    return {"input": before[-MAX_INPUT_CHARS:], "gt": gt,
            "suffix": ("\n" + after)[:MAX_SUFFIX_CHARS] if after else "",
            "path": str(path), "line": line_no}


def select_completions(test_files: list[Path], train: NearDupIndex, n: int, seed: int,
                       stats: dict[str, int]) -> list[dict[str, Any]]:
    """Up to n completion points, round-robin over the shuffled files (one per file per round)."""
    files = sorted(Path(p) for p in test_files)
    root = Path(os.path.commonpath([str(p.parent) for p in files])) if files else Path(".")
    rng = random.Random(seed + 1)
    rng.shuffle(files)
    texts: dict[Path, str] = {}
    for p in files:
        text = read_source(p)
        if text is not None:
            texts[p] = text
    stats["complete_files"] = len(texts)
    used: dict[Path, set[int]] = {p: set() for p in texts}
    spans: dict[Path, list[tuple[int, int]]] = {}
    out: list[dict[str, Any]] = []
    seen_points: set[tuple[str, str]] = set()
    active = [p for p in files if p in texts]
    while active and len(out) < n:
        still = []
        for p in active:
            if len(out) >= n:
                break
            before = len(used[p])
            ex = _completion_example(p.relative_to(root), texts[p], rng, train, used[p], stats, spans)
            if len(used[p]) > before:
                still.append(p)  # the file still had lines to offer
            if ex is None:
                continue
            key = (ex["input"][-200:], ex["gt"])
            if key in seen_points:  # identical context and answer in two files
                continue
            seen_points.add(key)
            out.append(ex)
        active = still
    return out


def build_heldout_sets(test_files: list[Path], test_pairs_path: Path, train_pairs_path: Path | None,
                       out_dir: Path, n: int = 1000, seed: int = 0) -> dict:
    """Write retrieval.jsonl, summarize.jsonl, complete.jsonl (+ heldout.json) under `out_dir`.

    Returns {"retrieval": {"path", "count"}, "summarize": {...}, "complete": {...},
    "stats": {...}, "n": n, "seed": seed}; the same dict is saved as heldout.json.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stats: dict[str, int] = {}
    train = train_index(train_pairs_path)
    stats["train_functions"] = len(train)
    pairs = select_pairs(Path(test_pairs_path), train, n, seed, stats)
    retrieval = [{"query": first_paragraph(p["docstring"])[:MAX_QUERY_CHARS], "code": p["code"],
                  "path": p["path"], "name": p["name"]} for p in pairs]
    summarize = [{"code": p["code"], "docstring": p["docstring"], "path": p["path"],
                  "name": p["name"]} for p in pairs]
    complete = select_completions(list(test_files), train, n, seed, stats)
    result: dict[str, Any] = {"n": n, "seed": seed, "stats": stats}
    for name, rows in (("retrieval", retrieval), ("summarize", summarize), ("complete", complete)):
        path = out_dir / f"{name}.jsonl"
        write_jsonl(path, rows)
        result[name] = {"path": str(path), "count": len(rows)}
        if len(rows) < n:
            log.warning("held-out %s: only %d examples (asked for %d)", name, len(rows), n)
    (out_dir / "heldout.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def extract_pairs(files: Iterable[Path], out_path: Path, root: Path | None = None) -> int:
    """Write `{"docstring", "code", "path", "name", "dist", "license"}` pairs of `files` (ast only)."""
    rows = []
    for path in files:
        text = read_source(Path(path))
        if text is None:
            continue
        rel = str(Path(path).relative_to(root)) if root else str(path)
        for fn in iter_functions(Path(rel), text):
            rows.append({"docstring": fn.docstring, "code": fn.code, "path": rel, "name": fn.name,
                         "dist": "stdlib", "license": "PSF-2.0"})
    write_jsonl(out_path, rows)
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    """Standalone: build the standard-library held-out sets."""
    parser = argparse.ArgumentParser(prog="python -m training.eval.heldout", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True, help="output directory for the JSONL sets")
    parser.add_argument("--stdlib", type=Path, default=None,
                        help="standard library directory (default: this interpreter's)")
    parser.add_argument("--train-pairs", type=Path, default=None,
                        help="training pairs JSONL to exclude near-duplicates of (default: none)")
    parser.add_argument("--n", type=int, default=1000, help="examples per task")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    root = Path(args.stdlib or stdlib_root())
    files = stdlib_files(root)
    if not files:
        print(f"no Python files under {root}", file=sys.stderr)
        return 2
    if args.train_pairs is None:
        log.warning("no --train-pairs: nothing is excluded as a training near-duplicate")
    pairs_path = args.out / "test_pairs.jsonl"
    args.out.mkdir(parents=True, exist_ok=True)
    count = extract_pairs(files, pairs_path, root)
    log.info("%d files, %d function/docstring pairs under %s", len(files), count, root)
    result = build_heldout_sets(files, pairs_path, args.train_pairs, args.out, args.n, args.seed)
    print(json.dumps({k: v for k, v in result.items()}, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
