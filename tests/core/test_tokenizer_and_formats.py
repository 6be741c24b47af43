"""Tokenizer layout and task formats: exact ids for each format on a small trained tokenizer."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from model import formats
from model import special_tokens as st
from model.tokenizer import CodeTokenizer, TokenizerError

SAMPLE = [
    "def add(a, b):\n    return a + b\n",
    "class Stack:\n    def push(self, item):\n        self.items.append(item)\n",
    "import os\nprint(os.path.join('a', 'b'))\n",
] * 20


@pytest.fixture(scope="module")
def tok() -> CodeTokenizer:
    return CodeTokenizer.train(SAMPLE, vocab_size=300, min_frequency=1)


def test_special_token_layout(tok: CodeTokenizer) -> None:
    assert [tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id, tok.mask_id] == [0, 1, 2, 3, 4]
    base = tok.vocab_size - 103
    # sentinels follow the BPE vocabulary, <extra_id_0> highest (T5 convention), then task tokens
    assert tok.token_id("<extra_id_99>") == base
    assert tok.sentinel_ids[0] == base + 99
    assert (tok.enc_id, tok.tdec_id, tok.cdec_id) == (base + 100, base + 101, base + 102)
    assert tok.clm_id == tok.unk_id


def test_roundtrip_and_specials_not_split(tok: CodeTokenizer) -> None:
    text = "def add(a, b):\n    return a + b\n"
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode("<extra_id_0>") == [tok.sentinel_ids[0]]
    assert tok.encode("x [TDEC]")[-1] == tok.tdec_id


def test_save_load_same_hash(tok: CodeTokenizer, tmp_path: Path) -> None:
    tok.save(tmp_path)
    again = CodeTokenizer.from_file(tmp_path)
    assert again.sha256() == tok.sha256()
    assert again.encode("return a + b") == tok.encode("return a + b")


def test_salesforce_layout_loads(tok: CodeTokenizer, tmp_path: Path) -> None:
    data = json.loads(tok.to_json())
    vocab = data["model"]["vocab"]
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    merges = data["model"]["merges"]
    lines = [m if isinstance(m, str) else " ".join(m) for m in merges]
    (tmp_path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(lines) + "\n")
    added = {t: tok.token_id(t) for t in st.appended_tokens()}
    (tmp_path / "added_tokens.json").write_text(json.dumps(added))
    sf = CodeTokenizer.from_salesforce(tmp_path)
    assert sf.vocab_size == tok.vocab_size
    assert sf.encode("def add(a, b):") == tok.encode("def add(a, b):")
    assert sf.tdec_id == tok.tdec_id and sf.sentinel_ids == tok.sentinel_ids


def test_bad_tokenizer_files(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match="not found"):
        CodeTokenizer.from_file(tmp_path / "nope.json")
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{ not json")
    with pytest.raises(TokenizerError, match="tokenizer.json"):
        CodeTokenizer.from_file(bad)
    with pytest.raises(TokenizerError, match="vocab.json"):
        CodeTokenizer.from_salesforce(tmp_path)


def test_fim_format(tok: CodeTokenizer) -> None:
    ex = formats.fim_example(tok, "def add(a, b):\n    return ", "\n", span="a + b")
    s0, s1 = tok.sentinel_ids[0], tok.sentinel_ids[1]
    assert ex.encoder_ids == tok.encode("def add(a, b):\n    return ") + [s0] + tok.encode("\n") + [tok.eos_id]
    assert ex.decoder_prefix == [s0]
    assert ex.target_ids == tok.encode("a + b") + [s1]
    inputs, labels = ex.decoder_inputs_and_labels(0)
    assert inputs == [0, s0] + tok.encode("a + b")
    assert labels == [formats.IGNORE_INDEX] + tok.encode("a + b") + [s1]


def test_fim_budget_keeps_prefix_end_and_suffix_start(tok: CodeTokenizer) -> None:
    prefix, suffix = list(range(10, 110)), list(range(200, 300))
    ex = formats.fim_example_ids(tok, prefix, suffix, max_source_length=42, suffix_share=0.25)
    s0 = tok.sentinel_ids[0]
    cut = ex.encoder_ids.index(s0)
    assert len(ex.encoder_ids) == 42
    assert ex.encoder_ids[:cut] == prefix[-30:]
    assert ex.encoder_ids[cut + 1:-1] == suffix[:10]


def test_decoder_only_and_causal_prompt(tok: CodeTokenizer) -> None:
    ex = formats.decoder_only_example(tok, "return a + b")
    assert ex.encoder_ids == [tok.clm_id, tok.eos_id]
    assert ex.decoder_prefix == []
    assert ex.target_ids == tok.encode("return a + b") + [tok.eos_id]
    prompt = formats.causal_prompt(tok, "def add(a, b):\n", max_prefix_length=3)
    assert prompt.encoder_ids == [tok.clm_id, tok.eos_id]
    assert prompt.decoder_prefix == tok.encode("def add(a, b):\n")[-3:]


def test_text_code_and_matching_formats(tok: CodeTokenizer) -> None:
    c2t = formats.code_to_text_example(tok, "return a + b", "Add.")
    assert c2t.encoder_ids == [tok.bos_id] + tok.encode("return a + b") + [tok.eos_id]
    assert c2t.decoder_prefix == [tok.tdec_id]
    t2c = formats.text_to_code_example(tok, "Add.", "return a + b")
    assert t2c.decoder_prefix == [tok.cdec_id] and t2c.target_ids[-1] == tok.eos_id
    enc, dec = formats.matching_inputs(tok, "Add.", "return a + b")
    assert enc == [tok.bos_id] + tok.encode("Add.") + [tok.eos_id]
    assert dec == [tok.enc_id] + tok.encode("return a + b") + [tok.eos_id]


def test_instruction_template_once() -> None:
    prompt = formats.instruction_prompt("Write a function that adds.")
    assert prompt.startswith("Below is an instruction")
    assert prompt.endswith("### Response:")
    assert "### Input:" in formats.instruction_prompt("x", "y")


def test_pad_batch() -> None:
    ids, mask = formats.pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert ids == [[5, 6, 7], [8, 0, 0]] and mask == [[1, 1, 1], [1, 0, 0]]
    ids, mask = formats.pad_batch([[5, 6, 7], [8]], pad_id=0, left=True)
    assert ids == [[5, 6, 7], [0, 0, 8]] and mask == [[1, 1, 1], [0, 0, 1]]
