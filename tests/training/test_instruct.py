"""Instruction data: the three tasks, and HumanEval decontamination with the shipped problems."""
from __future__ import annotations

import json

from training.instruct import Decontaminator, build_instructions, humaneval_texts, instruction_rows, split_header

PAIR = {"docstring": "Return the sum of two numbers.", "code": "def add(a, b):\n    c = a + b\n    return c",
        "name": "add"}


def test_instruction_rows_exact():
    rows = list(instruction_rows(PAIR))
    assert [r["task"] for r in rows] == ["write_function", "write_docstring", "complete_body"]
    assert rows[0]["instruction"] == "Write a Python function `add` that does the following: return the sum of two numbers."
    assert rows[0]["response"] == PAIR["code"] and rows[0]["input"] == ""
    assert rows[1]["input"] == PAIR["code"] and rows[1]["response"] == PAIR["docstring"]
    assert rows[2]["input"] == 'def add(a, b):\n    """Return the sum of two numbers."""'
    assert rows[2]["response"] == "    c = a + b\n    return c"
    assert split_header("not python (") is None


def test_humaneval_decontamination(tmp_path):
    texts = humaneval_texts()
    assert len(texts) == 164
    deco = Decontaminator(texts, n=13)
    leaked = texts[0].split("\n", 3)[-1]  # a problem's docstring and solution, reformatted
    assert deco.contaminated(leaked)
    assert not deco.contaminated(PAIR["code"] + " " + PAIR["docstring"])
    problem = texts[2]
    pairs = [PAIR, {"docstring": "Solve the task described below in detail.", "code": problem, "name": "x"}]
    src = tmp_path / "pairs.jsonl"
    src.write_text("".join(json.dumps(p) + "\n" for p in pairs) + "{broken\n")
    stats = build_instructions(src, tmp_path / "out.jsonl")
    rows = [json.loads(l) for l in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert stats["contaminated"] >= 2 and stats["bad_lines"] == 1
    assert all(problem not in r["response"] and problem not in r["input"] for r in rows)
    assert sum(r["response"] == PAIR["code"] for r in rows) == 1
