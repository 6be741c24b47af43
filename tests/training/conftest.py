"""Fixtures for the training tests: a character-level tokenizer for exact id expectations, a
tiny BPE trained on the corpus fixtures, and tiny models."""
from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "corpus"


class CharTokenizer:
    """One id per character (`ord`), CodeT5+ special ids: readable exact expectations."""

    pad_id, bos_id, eos_id, unk_id, mask_id = 0, 1, 2, 3, 4
    clm_id = 3
    sentinel_ids = [1000 - i for i in range(100)]
    enc_id, tdec_id, cdec_id = 1001, 1002, 1003
    vocab_size = 1004

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]


@pytest.fixture(scope="session")
def char_tok() -> CharTokenizer:
    return CharTokenizer()


@pytest.fixture(scope="session")
def tiny_tok():
    from model.tokenizer import CodeTokenizer

    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(FIXTURES.rglob("*.py"))]
    return CodeTokenizer.train(texts * 3, vocab_size=500, min_frequency=2)


def make_model(vocab_size: int, seed: int = 0, **overrides):
    import torch

    from model.config import get_config
    from model.modeling import build_model

    torch.set_num_threads(1)
    return build_model(get_config("tiny", **overrides).with_vocab(vocab_size), seed=seed)


@pytest.fixture
def char_model(char_tok):
    return make_model(char_tok.vocab_size)


@pytest.fixture(scope="session")
def model_factory():
    """`make_model(vocab_size, seed=0, **config_overrides)` -> a tiny CodeT5p."""
    return make_model


PAIRS = [
    {"docstring": "Return the sum of two numbers.", "code": "def add(a, b):\n    return a + b"},
    {"docstring": "Read a file and return its text.", "code": "def read(path):\n    with open(path) as f:\n        return f.read()"},
    {"docstring": "Reverse a list.", "code": "def reverse(items):\n    return items[::-1]"},
    {"docstring": "Count the words of a text.", "code": "def count_words(text):\n    return len(text.split())"},
]


@pytest.fixture(scope="session")
def train_data(tmp_path_factory, tiny_tok):
    """Tokenizer + small stage-1 / stage-2 / instruction JSONL files."""
    import json

    root = tmp_path_factory.mktemp("train_data")
    tiny_tok.save(root / "tok")
    files = [{"text": p.read_text(encoding="utf-8")} for p in sorted((FIXTURES / "dists").rglob("*.py"))
             if p.name in ("lists.py", "dicts.py", "stack.py", "paths.py")]
    (root / "files.jsonl").write_text("".join(json.dumps(r) + "\n" for r in files) + "not json\n")
    few = [{"text": p["code"]} for p in PAIRS[:3]]  # a handful of short chunks, for overfitting
    (root / "few_files.jsonl").write_text("".join(json.dumps(r) + "\n" for r in few))
    (root / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in PAIRS))
    instr = [{"instruction": "Write a Python function that does: " + p["docstring"], "input": "",
              "response": p["code"]} for p in PAIRS]
    (root / "instr.jsonl").write_text("".join(json.dumps(r) + "\n" for r in instr))
    return {"tokenizer": str(root / "tok" / "tokenizer.json"), "chunks": str(root / "files.jsonl"),
            "few_chunks": str(root / "few_files.jsonl"),
            "pairs": str(root / "pairs.jsonl"), "instructions": str(root / "instr.jsonl")}
