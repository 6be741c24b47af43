"""Held-out set builder: formats, determinism, near-duplicate exclusion, no code execution."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.eval.data import read_jsonl, write_jsonl
from training.eval.heldout import build_heldout_sets, extract_pairs
from training.eval.pyfuncs import stdlib_files, strip_docstring

VERBS = ["compute", "render", "collect", "merge", "filter", "encode", "decode", "measure",
         "update", "select", "convert", "resolve"]
NOUNS = ["totals", "records", "tokens", "headers", "vectors", "labels", "paths", "rows"]


def _module(i: int) -> str:
    funcs = []
    for j, noun in enumerate(NOUNS):
        verb = VERBS[(i + j) % len(VERBS)]
        funcs.append(
            f"def {verb}_{noun}_{i}_{j}(items, limit={j}):\n"
            f'    """{verb.capitalize()} the {noun} of module {i} quickly. Extra detail."""\n'
            f"    result_{j} = []\n"
            f"    for item in items[:limit + {i}]:\n"
            f"        result_{j}.append(item * {i + j} + len('{noun}'))\n"
            f"    return {verb}_helper(result_{j}, {i * 10 + j})\n")
    if i == 0:
        funcs.append(
            "def compute_totals_0(ledger, currency='EUR'):\n"
            '    """Compute per-account totals of a ledger in one currency."""\n'
            "    totals = {}\n"
            "    for account, amount, cur in ledger:\n"
            "        if cur != currency:\n"
            "            amount = convert_currency(amount, cur, currency)\n"
            "        totals[account] = totals.get(account, 0) + amount\n"
            "    return dict(sorted(totals.items()))\n")
    # executing this module would leave a marker file: the builder must never run it
    return "import pathlib\npathlib.Path(__file__).with_suffix('.ran').write_text('x')\n\n\n" + "\n\n".join(funcs)


@pytest.fixture()
def corpus(tmp_path: Path) -> dict:
    src = tmp_path / "src"
    files = []
    for i in range(12):
        path = src / f"pkg{i % 3}" / f"mod{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_module(i))
        files.append(path)
    (src / "broken.py").write_text("def oops(:\n    pass\n")
    files.append(src / "broken.py")
    pairs = tmp_path / "test_pairs.jsonl"
    extract_pairs(files, pairs, root=src)
    # training pairs: a near-duplicate (renamed, re-commented) of one test function, and an unrelated one
    test_rows = read_jsonl(pairs, "summarize")
    victim = next(r for r in test_rows if r["name"] == "compute_totals_0" and "ledger" in r["code"])
    near = victim["code"].replace("compute_totals_0", "sum_totals") + "    # trailing comment\n"
    train = tmp_path / "train_pairs.jsonl"
    write_jsonl(train, [{"docstring": "Sum things.", "code": near, "path": "x.py", "name": "sum_totals",
                         "dist": "x", "license": "MIT"},
                        {"docstring": "Other.", "code": "def other():\n    return 1\n", "path": "y.py",
                         "name": "other", "dist": "x", "license": "MIT"}])
    return {"files": files, "pairs": pairs, "train": train, "src": src, "n_pairs": len(test_rows)}


def test_builds_all_sets_in_the_issue_formats(corpus, tmp_path):
    out = tmp_path / "out"
    result = build_heldout_sets(corpus["files"], corpus["pairs"], corpus["train"], out, n=20, seed=0)
    for task, keys in (("retrieval", ("query", "code")), ("summarize", ("code", "docstring")),
                       ("complete", ("input", "gt"))):
        rows = read_jsonl(out / f"{task}.jsonl", task)
        assert result[task]["count"] == len(rows) == 20, task
        assert all(all(isinstance(r[k], str) and r[k] for k in keys) for r in rows)
    retrieval = read_jsonl(out / "retrieval.jsonl", "retrieval")
    assert all('"""' not in r["code"] for r in retrieval)       # docstrings removed from the code
    assert all(r["query"].endswith("Extra detail.") for r in retrieval)
    for row in read_jsonl(out / "complete.jsonl", "complete"):
        text = (corpus["src"] / row["path"]).read_text()
        assert text.startswith(row["input"]) or row["input"] in text
        assert (row["input"] + row["gt"]) in text                   # gt is the rest of that line
        assert "\n" not in row["gt"] and row["gt"].strip()
    assert json.loads((out / "heldout.json").read_text())["n"] == 20
    assert not list(corpus["src"].rglob("*.ran")), "a source file was executed"


def test_deterministic_for_a_seed_and_different_for_another(corpus, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    build_heldout_sets(corpus["files"], corpus["pairs"], corpus["train"], a, n=15, seed=3)
    build_heldout_sets(list(reversed(corpus["files"])), corpus["pairs"], corpus["train"], b, n=15, seed=3)
    build_heldout_sets(corpus["files"], corpus["pairs"], corpus["train"], c, n=15, seed=4)
    for name in ("retrieval.jsonl", "summarize.jsonl", "complete.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "complete.jsonl").read_bytes() != (c / "complete.jsonl").read_bytes()


def test_training_near_duplicates_are_excluded(corpus, tmp_path):
    out = tmp_path / "out"
    result = build_heldout_sets(corpus["files"], corpus["pairs"], corpus["train"], out, n=1000, seed=0)
    names = {r["name"] for r in read_jsonl(out / "summarize.jsonl", "summarize")}
    assert "compute_totals_0" not in names
    assert result["stats"]["pairs_excluded_train_dup"] >= 1
    stats = result["stats"]
    assert result["summarize"]["count"] == (stats["pairs_candidates"] - stats["pairs_excluded_train_dup"]
                                            - stats.get("pairs_excluded_self_dup", 0))
    # without the training file the function is kept
    build_heldout_sets(corpus["files"], corpus["pairs"], None, tmp_path / "free", n=1000, seed=0)
    assert "compute_totals_0" in {r["name"] for r in read_jsonl(tmp_path / "free" / "summarize.jsonl", "summarize")}
    # completion points never come from inside that function
    for row in read_jsonl(out / "complete.jsonl", "complete"):
        if row["path"].endswith("mod0.py"):
            lines = (corpus["src"] / row["path"]).read_text().splitlines()
            start = next(i for i, ln in enumerate(lines, 1) if ln.startswith("def compute_totals_0("))
            assert not start <= row["line"] <= start + 7


def test_strip_docstring_and_stdlib_file_list():
    code = '    def f(x):\n        """Doc.\n\n        More."""\n        return x\n'
    assert strip_docstring(code) == "def f(x):\n    return x\n"
    assert strip_docstring("not python (") == "not python ("
    files = stdlib_files()
    assert files and all(f.suffix == ".py" for f in files)
    parts = {p for f in files for p in f.parts}
    assert not parts & {"test", "tests", "idlelib", "site-packages"}


def test_sample_rows_spreads_over_the_file_in_file_order():
    """A validation sample covers the whole file (the pair files are ordered by package), is the
    same for a seed, and keeps file order."""
    from training.eval.data import sample_rows

    rows = [{"dist": "a" if i < 300 else "b", "i": i} for i in range(1000)]
    picked = sample_rows(rows, 100)
    assert len(picked) == 100 and len({r["i"] for r in picked}) == 100
    assert [r["i"] for r in picked] == sorted(r["i"] for r in picked)
    assert 15 <= sum(r["dist"] == "a" for r in picked) <= 45  # ~30% from the first package, not 100%
    assert sample_rows(rows, 100) == picked and sample_rows(rows, 100, seed=1) != picked
    assert sample_rows(rows, None) == rows and sample_rows(rows, 5000) == rows and sample_rows(rows, 0) == []
