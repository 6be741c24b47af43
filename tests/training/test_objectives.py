"""Exact inputs and labels of every objective on small examples (character tokenizer)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from model.formats import ALPACA_TEMPLATE, IGNORE_INDEX
from training.objectives import build_objective
from training.objectives.causal import pick_pivot
from training.objectives.contrastive import info_nce
from training.objectives.denoise import random_spans_noise_mask, span_corruption
from training.objectives.matching import assemble_pairs, hard_negatives

S0, S1, S2 = 1000, 999, 998
EOS, BOS, PAD = 2, 1, 0


def test_span_corruption_layout(char_tok):
    ids = [10, 11, 12, 13, 14, 15]
    ex = span_corruption(ids, np.array([0, 1, 1, 0, 1, 0], bool), char_tok.sentinel_ids, EOS)
    assert ex.encoder_ids == [10, S0, 13, S1, 15, EOS]
    assert ex.decoder_prefix == []
    assert ex.target_ids == [S0, 11, 12, S1, 14, S2, EOS]


def test_span_corruption_edges(char_tok):
    lead = span_corruption([10, 11, 12], np.array([1, 0, 0], bool), char_tok.sentinel_ids, EOS)
    assert lead.encoder_ids == [S0, 11, 12, EOS]
    assert lead.target_ids == [S0, 10, S1, EOS]
    tail = span_corruption([10, 11, 12], np.array([0, 1, 1], bool), char_tok.sentinel_ids, EOS)
    assert tail.encoder_ids == [10, S0, EOS]
    assert tail.target_ids == [S0, 11, 12, EOS]


def test_noise_mask_density_and_spans():
    rng = np.random.default_rng(3)
    mask = random_spans_noise_mask(100, rng, 0.15, 3.0)
    assert mask.sum() == 15
    runs = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int)])) == 1)
    assert len(runs) == 5  # round(15 / 3) spans
    assert not mask[0]  # T5: starts with non-noise
    again = random_spans_noise_mask(100, np.random.default_rng(3), 0.15, 3.0)
    assert (mask == again).all()


def test_denoise_batch_teacher_forcing(char_tok, char_model):
    obj = build_objective("denoise", char_tok, char_model)
    rng = np.random.default_rng(0)
    ids = list(range(10, 30))
    batch = obj.build([ids, ids[:10]], rng)
    # recompute the same examples with the same rng draws
    rng = np.random.default_rng(0)
    m1 = random_spans_noise_mask(20, rng)
    m2 = random_spans_noise_mask(10, rng)
    e1 = span_corruption(ids, m1, char_tok.sentinel_ids, EOS)
    e2 = span_corruption(ids[:10], m2, char_tok.sentinel_ids, EOS)
    assert batch["input_ids"][0].tolist() == e1.encoder_ids
    assert batch["input_ids"][1].tolist()[: len(e2.encoder_ids)] == e2.encoder_ids
    assert batch["attention_mask"][1].tolist() == [1] * len(e2.encoder_ids) + [0] * (len(e1.encoder_ids) - len(e2.encoder_ids))
    assert batch["labels"][0].tolist()[: len(e1.target_ids)] == e1.target_ids
    assert batch["decoder_input_ids"][0].tolist()[: len(e1.target_ids)] == [0] + e1.target_ids[:-1]
    width = batch["labels"].shape[1]
    assert batch["labels"][1].tolist() == e2.target_ids + [IGNORE_INDEX] * (width - len(e2.target_ids))


def test_denoise_fim_variant(char_tok, char_model):
    obj = build_objective("denoise", char_tok, char_model, fim_rate=1.0)
    ex = obj.example(list(range(10, 20)), np.random.default_rng(1))
    s0 = ex.encoder_ids.index(S0)
    prefix, suffix = ex.encoder_ids[:s0], ex.encoder_ids[s0 + 1:-1]
    span = ex.target_ids[:-1]
    assert ex.decoder_prefix == [S0] and ex.target_ids[-1] == S1 and ex.encoder_ids[-1] == EOS
    assert prefix + span + suffix == list(range(10, 20))


def test_seq2seq_clm(char_tok, char_model):
    obj = build_objective("seq2seq_clm", char_tok, char_model)
    ids = list(range(10, 30))
    pivot = pick_pivot(20, np.random.default_rng(5))
    assert 2 <= pivot <= 18
    batch = obj.build([ids], np.random.default_rng(5))
    assert batch["input_ids"][0].tolist() == [3] + ids[:pivot] + [EOS]
    assert batch["labels"][0].tolist() == ids[pivot:] + [EOS]
    assert batch["decoder_input_ids"][0].tolist() == [0] + ids[pivot:]
    pivots = {pick_pivot(10, np.random.default_rng(i)) for i in range(200)}
    assert pivots == set(range(1, 10))  # [ceil(1), floor(9)]


def test_decoder_only_clm(char_tok, char_model):
    obj = build_objective("decoder_clm", char_tok, char_model)
    batch = obj.build([[10, 11, 12]], np.random.default_rng(0))
    assert batch["input_ids"][0].tolist() == [3, EOS]
    assert batch["decoder_input_ids"][0].tolist() == [0, 10, 11, 12]
    assert batch["labels"][0].tolist() == [10, 11, 12, EOS]


def test_text_to_code_and_code_to_text(char_tok, char_model):
    pair = {"docstring": "ab", "code": "xy"}
    t2c = build_objective("text2code", char_tok, char_model).build([pair], np.random.default_rng(0))
    assert t2c["input_ids"][0].tolist() == [BOS, 97, 98, EOS]
    assert t2c["decoder_input_ids"][0].tolist() == [0, 1003, 120, 121]
    assert t2c["labels"][0].tolist() == [IGNORE_INDEX, 120, 121, EOS]
    c2t = build_objective("code2text", char_tok, char_model).build([pair], np.random.default_rng(0))
    assert c2t["input_ids"][0].tolist() == [BOS, 120, 121, EOS]
    assert c2t["decoder_input_ids"][0].tolist() == [0, 1002, 97, 98]
    assert c2t["labels"][0].tolist() == [IGNORE_INDEX, 97, 98, EOS]


def test_instruction_loss_on_response_only(char_tok, char_model):
    row = {"instruction": "do", "input": "", "response": "ok"}
    batch = build_objective("instruct", char_tok, char_model).build([row], np.random.default_rng(0))
    prompt = ALPACA_TEMPLATE.format(instruction="do")
    assert batch["input_ids"][0].tolist() == [BOS] + [ord(c) for c in prompt] + [EOS]
    assert batch["labels"][0].tolist() == [ord("o"), ord("k"), EOS]


def test_info_nce_exact():
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    c = torch.tensor([[0.6, 0.8], [0.8, 0.6]])
    loss = info_nce(t, c, t, c, 0.5)
    def ce(logits, i):
        return -(logits[i] - torch.logsumexp(logits, 0))
    t2c = t @ c.t() / 0.5
    c2t = c @ t.t() / 0.5
    expected = ((ce(t2c[0], 0) + ce(t2c[1], 1)) / 2 + (ce(c2t[0], 0) + ce(c2t[1], 1)) / 2) / 2
    assert float(loss) == pytest.approx(float(expected), abs=1e-6)


def test_contrastive_momentum_and_queue(tiny_tok, model_factory):
    model = model_factory(tiny_tok.vocab_size)
    obj = build_objective("contrastive", tiny_tok, model, queue_size=3, momentum=0.5)
    pairs = [{"docstring": "add two numbers", "code": "def add(a, b):\n    return a + b"},
             {"docstring": "read a file", "code": "def read(p):\n    return open(p).read()"}]
    batch = obj.build(pairs, np.random.default_rng(0))
    assert batch["text_ids"][0, 0] == tiny_tok.bos_id and batch["code_ids"][0, 0] == tiny_tok.bos_id
    with torch.no_grad():
        for p in model.proj.parameters():
            p.add_(1.0)  # online != momentum copy
    old = obj.m_proj.weight.detach().clone()
    loss, tokens = obj.loss(model, batch)
    loss.backward()
    assert obj.temp.grad is not None  # the temperature is learned
    assert torch.allclose(obj.m_proj.weight, 0.5 * old + 0.5 * model.proj.weight.detach(), atol=1e-6)
    assert int(obj.queue_len) == 2 and int(obj.queue_ptr) == 2
    expected_keys = obj._momentum_embed(batch["text_ids"], batch["text_mask"])
    # the momentum encoder moved no further (no update since), so the queued keys are reproducible
    assert torch.allclose(obj.text_queue[:2], expected_keys, atol=1e-5)
    obj.loss(model, batch)
    assert int(obj.queue_len) == 3 and int(obj.queue_ptr) == 1  # wrapped around
    assert tokens == int(batch["text_mask"].sum() + batch["code_mask"].sum())



def test_contrastive_in_batch_builds_no_momentum_copy(tiny_tok, model_factory):
    """The default (online keys, no queue) uses no momentum key, so it carries no momentum encoder
    (nothing extra to move to the device or write into checkpoints); the loss is in-batch InfoNCE."""
    model = model_factory(tiny_tok.vocab_size)
    obj = build_objective("contrastive", tiny_tok, model)
    assert not any(k.startswith(("m_encoder.", "m_proj.")) for k in obj.state_dict())
    pairs = [{"docstring": "add two numbers", "code": "def add(a, b):\n    return a + b"},
             {"docstring": "read a file", "code": "def read(p):\n    return open(p).read()"}]
    batch = obj.build(pairs, np.random.default_rng(0))
    loss, _ = obj.loss(model, batch)
    text = model.embed(batch["text_ids"], batch["text_mask"]).float()
    code = model.embed(batch["code_ids"], batch["code_mask"]).float()
    assert float(loss) == pytest.approx(float(info_nce(text, code, text, code, obj.temp)), abs=1e-5)
    momentum = build_objective("contrastive", tiny_tok, model, online_keys=False)
    assert any(k.startswith("m_encoder.") for k in momentum.state_dict())

def test_hard_negatives_exact():
    sim = torch.tensor([[0.9, 0.8, 0.1], [0.2, 0.9, 0.7], [0.6, 0.3, 0.9]])
    same = torch.eye(3, dtype=torch.bool)
    assert hard_negatives(sim, same, np.random.default_rng(0), greedy=True) == [1, 2, 0]
    same[0, 1] = True  # an identical code is never a negative
    assert hard_negatives(sim, same, np.random.default_rng(0), greedy=True)[0] == 2
    draws = [hard_negatives(sim, same, np.random.default_rng(i))[0] for i in range(20)]
    assert set(draws) == {2}
    assert hard_negatives(sim[:1, :1], torch.ones(1, 1, dtype=torch.bool), np.random.default_rng(0)) == [-1]


def test_matching_pairs_and_inputs(tiny_tok, model_factory):
    assert assemble_pairs(2, [1, 0], [1, -1]) == ([0, 1, 0, 1, 1], [0, 1, 1, 0, 0], [1, 1, 0, 0, 0])
    model = model_factory(tiny_tok.vocab_size)
    obj = build_objective("matching", tiny_tok, model, greedy=True)
    pairs = [{"docstring": "add two numbers", "code": "def add(a, b):\n    return a + b"},
             {"docstring": "read a file", "code": "def read(p):\n    return open(p).read()"}]
    batch = obj.build(pairs, np.random.default_rng(0))
    row = batch["match_dec_ids"][0].tolist()
    n = int(batch["match_dec_mask"][0].sum())
    assert row[0] == tiny_tok.enc_id and row[n - 1] == tiny_tok.eos_id
    assert tiny_tok.decode(row[1:n - 1]) == pairs[0]["code"]
    loss, _ = obj.loss(model, batch)
    assert torch.isfinite(loss) and 0.3 < loss.item() < 1.5  # ~ln 2 at random init
