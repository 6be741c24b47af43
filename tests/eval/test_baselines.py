"""Baselines give sane numbers on tiny sets: BM25, MiniLM, neighbour docstring, earlier line."""
from __future__ import annotations

import numpy as np
import pytest

from training.eval import baselines as bl
from training.eval.bm25 import BM25
from training.eval.metrics import gold_ranks, mrr
from training.eval.text import first_sentence, identifier_tokens

PAIRS = [
    ("read the text of a file", "def read_file(path):\n    with open(path) as fh:\n        return fh.read()\n"),
    ("add two numbers", "def add(a, b):\n    return a + b\n"),
    ("sort a list of numbers in place", "def sort_numbers(xs):\n    xs.sort()\n    return xs\n"),
    ("parse command line arguments", "def parse_args(argv):\n    parser = argparse.ArgumentParser()\n"
     "    return parser.parse_args(argv)\n"),
    ("open a network socket to a host", "def connect(host, port):\n    return socket.create_connection((host, port))\n"),
    ("compute the mean of a list", "def mean(values):\n    return sum(values) / len(values)\n"),
    ("convert a string to upper case", "def shout(text):\n    return text.upper()\n"),
    ("delete a file from disk", "def remove_file(path):\n    os.remove(path)\n"),
]


def test_identifier_split():
    assert identifier_tokens("readJSONFile_v2(x)") == ["read", "json", "file", "v", "2", "x"]


def test_bm25_ranks_the_lexical_match_first_and_scores_by_hand():
    index = BM25(["a b", "c d", "a a c"])
    s = index.scores("a")
    assert s[1] == 0 and s[0] > 0 and s[2] > 0
    # idf(a) = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)); doc 0: tf 1, len 2, avg 7/3
    idf = np.log(1 + 1.5 / 2.5)
    norm = 1.2 * (1 - 0.75 + 0.75 * 2 / (7 / 3))
    assert s[0] == pytest.approx(idf * 1 * 2.2 / (1 + norm))


def test_bm25_retrieval_is_far_better_than_chance():
    queries, codes = zip(*PAIRS)
    value = mrr(gold_ranks(bl.bm25_scores(queries, codes)))
    assert value > 0.6  # chance is about 0.34 for 8 candidates


def test_minilm_retrieval_is_far_better_than_chance():
    queries, codes = zip(*PAIRS)
    scores = bl.minilm_scores(queries, codes, batch_size=8)
    assert scores.shape == (8, 8)
    assert mrr(gold_ranks(scores)) > 0.7


def test_neighbour_docstring_never_returns_its_own():
    codes = [c for _, c in PAIRS] + ["def read_text(path):\n    with open(path) as f:\n        return f.read()\n"]
    docs = [q for q, _ in PAIRS] + ["read a text file"]
    out = bl.neighbour_docstrings(codes, docs)
    assert out[0] == "read a text file" and out[-1] == "read the text of a file"
    assert all(o != d for o, d in zip(out, docs))


def test_earlier_line_completion_cases():
    ctx = "x = load(path)\nself.assertEqual(a, 1)\ny = 2\nself.assertEq"
    assert bl.earlier_line_completion(ctx) == "ual(a, 1)"
    # no line with the typed prefix: repeat what followed the longest matching suffix
    assert bl.earlier_line_completion("result = compute(a)\nother = 1\n    resalt = comp") == "ute(a)"
    assert bl.earlier_line_completion("x = obj.method(a)\ny = 3\nz = foo(obj.") == "method(a)"
    # suffixes are cut at token boundaries: "print" does not continue "initialized"
    assert bl.earlier_line_completion("initialized = True\n    print") == ""
    # nothing typed: repeat the line that followed the line most similar to the previous one
    ctx = "for i in items:\n    total += i\nz = 0\nfor i in items:\n    "
    assert bl.earlier_line_completion(ctx) == "total += i"
    assert bl.earlier_line_completion("first line") == ""


def test_first_sentence():
    assert first_sentence("Return the mean, e.g. of floats.  More.\n\nDetails.") == "Return the mean, e.g. of floats"
    assert first_sentence("  Open\n  a file\n") == "Open a file"
