"""Each task runner end to end through `codet5p-train eval` on the tiny bundle and tiny JSONL."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.cli import main
from training.eval.data import write_jsonl
from training.eval.humaneval import pass_metrics, run_samples
from training.eval.metrics import pass_at_k
from training.eval.sandbox import unavailable_reason

_WHY_NOT = unavailable_reason()
needs_bwrap = pytest.mark.skipif(_WHY_NOT is not None, reason=f"no sandbox here: {_WHY_NOT}")

PAIRS = [
    ("read the text of a file", "def read_file(path):\n    with open(path) as fh:\n        return fh.read()\n"),
    ("add two numbers", "def add(a, b):\n    return a + b\n"),
    ("sort a list of numbers in place", "def sort_numbers(xs):\n    xs.sort()\n    return xs\n"),
    ("open a network socket to a host", "def connect(host, port):\n    return socket.create_connection((host, port))\n"),
    ("compute the mean of a list", "def mean(values):\n    return sum(values) / len(values)\n"),
    ("delete a file from disk", "def remove_file(path):\n    os.remove(path)\n"),
]

PROBLEMS = [
    {"task_id": "Tiny/0", "prompt": "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n",
     "canonical_solution": "    return a + b\n", "entry_point": "add",
     "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n"},
    {"task_id": "Tiny/1", "prompt": "def double(xs):\n    \"\"\"Double every item.\"\"\"\n",
     "canonical_solution": "    return [2 * x for x in xs]\n", "entry_point": "double",
     "test": "def check(candidate):\n    assert candidate([1, 2]) == [2, 4]\n"},
]


def _eval(capsys, *argv: str) -> tuple[int, dict | str]:
    rc = main(["eval", *argv])
    out, err = capsys.readouterr()
    if rc != 0:
        return rc, err
    return rc, json.loads(out) if "--json" in argv else out


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("evaldata")
    write_jsonl(d / "retrieval.jsonl", [{"query": q, "code": c} for q, c in PAIRS])
    write_jsonl(d / "summarize.jsonl", [{"code": c, "docstring": q.capitalize() + ". More words here."}
                                        for q, c in PAIRS])
    write_jsonl(d / "complete.jsonl", [
        {"input": "import os\nx = os.path.join(a, b)\ny = os.path.", "gt": "join(a, c)", "suffix": "\nprint(y)\n"},
        {"input": "def add(a, b):\n    ", "gt": "return a + b"},
        {"input": "for i in range(3):\n    print(i)\nfor i in range(3):\n    ", "gt": "print(i)"}])
    write_jsonl(d / "humaneval.jsonl", PROBLEMS)
    return {p.stem: p for p in d.glob("*.jsonl")}


def test_retrieval_runner(capsys, tiny_bundle, data):
    rc, rep = _eval(capsys, "retrieval", "--bundle", str(tiny_bundle), "--data", str(data["retrieval"]),
                    "--json", "--threads", "1", "--rerank-k", "3")
    assert rc == 0, rep
    assert rep["n"] == 6
    systems = rep["systems"]
    assert set(systems) == {"codet5p embedding", "codet5p + match re-rank@3"}
    for metrics in systems.values():
        assert 1 / 6 <= metrics["mrr"] <= 1 and 0 <= metrics["r@1"] <= metrics["r@5"] <= metrics["r@10"] == 1


def test_retrieval_runner_with_baselines_and_table(capsys, tiny_bundle, data):
    rc, table = _eval(capsys, "retrieval", "--bundle", str(tiny_bundle), "--data", str(data["retrieval"]),
                      "--baselines", "--threads", "1", "--rerank-k", "0", "--limit", "5")
    assert rc == 0, table
    assert "(n=5)" in table
    for name in ("codet5p embedding", "baseline BM25", "baseline MiniLM-L6", "BM25 (RRF)"):
        assert name in table
    assert "re-rank" not in table


def test_summarize_runner(capsys, tiny_bundle, data):
    rc, rep = _eval(capsys, "summarize", "--bundle", str(tiny_bundle), "--data", str(data["summarize"]),
                    "--json", "--baselines", "--threads", "1", "--max-new-tokens", "6")
    assert rc == 0, rep
    assert 0 <= rep["systems"]["codet5p code->text"]["bleu4"] <= 100
    assert 0 < rep["systems"]["baseline BM25-neighbour docstring"]["bleu4"] < 100


def test_complete_runner_both_modes(capsys, tiny_bundle, data):
    rc, rep = _eval(capsys, "complete", "--bundle", str(tiny_bundle), "--data", str(data["complete"]),
                    "--json", "--baselines", "--threads", "1", "--max-new-tokens", "4")
    assert rc == 0, rep
    systems = rep["systems"]
    assert {"codet5p decoder-only", "codet5p fill-in-the-middle", "baseline repeat earlier line"} == set(systems)
    for m in systems.values():
        assert 0 <= m["em"] <= 100 and 0 <= m["es"] <= 100
    # earlier-line baseline: row 1 close ("join(a, b)" for "join(a, c)"), row 2 empty, row 3 exact
    assert systems["baseline repeat earlier line"]["em"] == pytest.approx(100 / 3)


@needs_bwrap
def test_humaneval_runner_bundle_and_oracle(capsys, tiny_bundle, data):
    rc, rep = _eval(capsys, "humaneval", "--bundle", str(tiny_bundle), "--data", str(data["humaneval"]),
                    "--json", "--baselines", "--threads", "1", "--max-new-tokens", "8")
    assert rc == 0, rep
    assert rep["systems"]["oracle canonical solutions"]["pass@1"] == 100.0
    greedy = rep["systems"]["codet5p greedy"]
    assert 0 <= greedy["pass@1"] <= 100 and greedy["pass@10"] is None
    assert any("pass@10" in n for n in rep["notes"])


@needs_bwrap
def test_humaneval_samples_file_gives_unbiased_pass_at_10(capsys, data, tmp_path):
    samples = []
    for i in range(12):  # Tiny/0: 3 of 12 right; Tiny/1: 12 of 12 right
        samples.append({"task_id": "Tiny/0", "completion": "    return a + b\n" if i < 3 else "    return a - b\n"})
        samples.append({"task_id": "Tiny/1", "completion": "    return [2 * x for x in xs]\n"})
    write_jsonl(tmp_path / "samples.jsonl", samples)
    rc, rep = _eval(capsys, "humaneval", "--data", str(data["humaneval"]), "--samples",
                    str(tmp_path / "samples.jsonl"), "--json")
    assert rc == 0, rep
    m = rep["systems"]["samples file"]
    assert m["pass@1"] == pytest.approx(100 * (3 / 12 + 1) / 2)
    assert m["pass@10"] == pytest.approx(100 * (pass_at_k(12, 3, 10) + 1) / 2)


@needs_bwrap
def test_generated_code_cannot_escape(tmp_path):
    marker = tmp_path / "escaped"
    problems = {p["task_id"]: p for p in PROBLEMS}
    evil = f"    open({str(marker)!r}, 'w').write('x')\n    return a + b\n"
    by_task = run_samples(problems, [("Tiny/0", evil), ("Tiny/0", "    while True: pass\n")])
    assert by_task["Tiny/0"] == [False, False] and not marker.exists()
    assert pass_metrics(by_task)["pass@1"] == 0.0


def test_bad_input_is_reported_with_file_and_line(capsys, tiny_bundle, tmp_path, data):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "a", "code": "b"}\n{"query": "a"}\n')
    rc, err = _eval(capsys, "retrieval", "--baselines", "--data", str(bad))
    assert rc == 2 and f"{bad}:2" in err and "'code'" in err
    bad.write_text("not json\n")
    rc, err = _eval(capsys, "summarize", "--baselines", "--data", str(bad))
    assert rc == 2 and f"{bad}:1" in err
    rc, err = _eval(capsys, "retrieval", "--bundle", str(tmp_path / "nope"), "--data", str(data["retrieval"]))
    assert rc == 2 and "nope" in err
    rc, err = _eval(capsys, "complete", "--data", str(data["complete"]))
    assert rc == 2 and "--bundle" in err


@needs_bwrap
def test_humaneval_sampling_from_model_dir(capsys, tiny_model_dir, data, tmp_path):
    out = tmp_path / "sampled.jsonl"
    argv = ["humaneval", "--model-dir", str(tiny_model_dir), "--data", str(data["humaneval"]),
            "--n-samples", "10", "--max-new-tokens", "6", "--json", "--write-samples", str(out)]
    rc, rep = _eval(capsys, *argv)
    assert rc == 0, rep
    m = rep["systems"]["codet5p sampled (n=10, T=0.8)"]
    assert 0 <= m["pass@1"] <= m["pass@10"] <= 100
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 20 and {r["task_id"] for r in rows} == {"Tiny/0", "Tiny/1"}
    first = out.read_text()
    assert _eval(capsys, *argv)[0] == 0
    assert out.read_text() == first  # seeded
