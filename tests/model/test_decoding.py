"""Decoding: KV-cached greedy/beam equal their uncached references; stop rules; prompt formats."""
from __future__ import annotations

import time

import numpy as np
import pytest

from model import formats
from model.runtime import GenerationConfig, Runtime
from model.runtime.decoding import StopRules, apply_text_rules, greedy, newline_cut

PROMPTS = ["def add(a, b):\n    return", "import os\nfor name in os.listdir('.'):\n", "class Stack:\n"]


@pytest.fixture(scope="module")
def rt(tiny_bundle):
    return Runtime.load(tiny_bundle, threads=1, precision="fp32")


def _full_logits(rt, example, seq):
    """Uncached: rerun the whole decoder over the full sequence, last position's logits."""
    hidden, mask, _ = rt._encode([example.encoder_ids])
    dec = rt._graphs.decoder
    return dec.run(None, {"input_ids": np.asarray([seq], dtype=np.int64), "encoder_hidden_states": hidden,
                          "encoder_attention_mask": mask})[0][0, -1].astype(np.float64)


def _banned(rt, logits):
    logits = logits.copy()
    logits[rt._banned] = -np.inf
    return logits


def _uncached_greedy(rt, example, n):
    seq = [rt.config.decoder_start_token_id] + example.decoder_prefix
    out = []
    for _ in range(n):
        tok = int(np.argmax(_banned(rt, _full_logits(rt, example, seq))))
        out.append(tok)
        seq.append(tok)
    return out


def _examples(rt):
    tok = rt.tokenizer
    return ([formats.fim_example(tok, p, "\n    pass\n") for p in PROMPTS]
            + [formats.causal_prompt(tok, p) for p in PROMPTS]
            + [formats.code_to_text_example(tok, p) for p in PROMPTS])


def test_cached_greedy_equals_uncached(rt):
    for ex in _examples(rt):
        got = rt.generate(ex, GenerationConfig(max_new_tokens=10), end_ids=frozenset())
        assert got.token_ids == _uncached_greedy(rt, ex, 10)
        assert got.stop_reason == "max_tokens"


def _uncached_beam(rt, example, k, n):
    start = [rt.config.decoder_start_token_id] + example.decoder_prefix
    beams = [([], 0.0)]
    for _ in range(n):
        cands = []
        for ids, score in beams:
            logits = _banned(rt, _full_logits(rt, example, start + ids))
            m = logits[np.isfinite(logits)].max()
            logp = logits - m - np.log(np.sum(np.exp(logits[np.isfinite(logits)] - m)))
            for t in np.argsort(-logp)[:k]:
                cands.append((ids + [int(t)], score + float(logp[t])))
        beams = sorted(cands, key=lambda c: -c[1])[:k]
    return beams[0][0]


def test_cached_beam_search_equals_uncached_reference(rt):
    for ex in _examples(rt)[::2]:
        got = rt.generate(ex, GenerationConfig(max_new_tokens=5, num_beams=3, length_penalty=0.0),
                          end_ids=frozenset())
        assert got.token_ids == _uncached_beam(rt, ex, 3, 5)


def test_single_beam_is_greedy(rt):
    ex = _examples(rt)[0]
    a = rt.generate(ex, GenerationConfig(max_new_tokens=8, num_beams=1))
    b = rt.generate(ex, GenerationConfig(max_new_tokens=8))
    assert a.token_ids == b.token_ids


def test_max_tokens_and_deadline(rt):
    g = rt.complete("def f(x):\n    return", config=GenerationConfig(max_new_tokens=3))
    assert len(g.token_ids) <= 3
    late = GenerationConfig(max_new_tokens=50, deadline=time.monotonic() - 1)
    g = rt.complete("def f(x):\n    return", config=late)
    assert g.stop_reason == "deadline" and g.token_ids == []
    g = rt.complete("def f(x):\n    return", config=GenerationConfig(max_new_tokens=50, num_beams=2,
                                                                       deadline=time.monotonic() - 1))
    assert g.stop_reason == "deadline"


def test_stop_string_cuts_real_generation(rt):
    ex = formats.code_to_text_example(rt.tokenizer, "def add(a, b): return a + b")
    free = rt.generate(ex, GenerationConfig(max_new_tokens=16), end_ids=frozenset())
    text = free.text
    assert len(text) >= 6
    stop = text[len(text) // 2: len(text) // 2 + 2]
    cut = rt.generate(ex, GenerationConfig(max_new_tokens=16, stop_strings=(stop,)), end_ids=frozenset())
    assert cut.stop_reason == "stop_string"
    assert cut.text == text[:text.find(stop)]
    assert len(cut.token_ids) <= len(free.token_ids)


def test_newline_cut_rules():
    assert newline_cut("foo)\nbar") == "foo)"
    assert newline_cut("\n    return x\n    y") == "\n    return x"
    assert newline_cut("   \n  ") is None
    assert apply_text_rules("a = 1\nb = 2", GenerationConfig(stop_at_newline=True)) == ("a = 1", "newline")
    assert apply_text_rules("x END y", GenerationConfig(stop_strings=("END",))) == ("x ", "stop_string")
    assert apply_text_rules("plain", GenerationConfig()) == ("plain", None)


class _ScriptedGraphs:
    """Plays a fixed token script through the decode loop (unit test of the stop logic only)."""

    def __init__(self, script, vocab):
        self.script, self.vocab, self.pos = list(script), vocab, 0

    def _logits(self):
        logits = np.zeros((1, self.vocab), dtype=np.float32)
        logits[0, self.script[min(self.pos, len(self.script) - 1)]] = 10.0
        self.pos += 1
        return logits

    def first(self, hidden, mask, ids):
        return self._logits(), []

    def step(self, ids, mask, past):
        return self._logits(), past


def _run_script(rt, text_tokens, cfg, end_ids=None, end_reason="eos"):
    tok = rt.tokenizer
    script = [i for t in text_tokens for i in (tok.encode(t) if isinstance(t, str) else [t])]
    rules = StopRules(cfg, frozenset(end_ids if end_ids is not None else [tok.eos_id]), end_reason,
                      rt._newline_mask, tok.decode)
    return greedy(_ScriptedGraphs(script, rt.config.vocab_size), None, None, [0], rules)


def test_greedy_stop_rules_on_scripted_tokens(rt):
    tok = rt.tokenizer
    ids, reason, cut = _run_script(rt, ["return a", "\n", "print(a)"], GenerationConfig(stop_at_newline=True))
    assert reason == "newline" and cut == "return a"
    ids, reason, cut = _run_script(rt, ["x = 1", tok.eos_id, "y"], GenerationConfig())
    assert reason == "eos" and tok.decode(ids) == "x = 1"
    fim_end = frozenset([tok.eos_id, *tok.sentinel_ids])
    ids, reason, cut = _run_script(rt, ["a + b", tok.sentinel_ids[1], "junk"], GenerationConfig(),
                                   end_ids=fim_end, end_reason="sentinel")
    assert reason == "sentinel" and tok.decode(ids) == "a + b"
    ids, reason, cut = _run_script(rt, ["for i in range(3): pass"], GenerationConfig(stop_strings=("range",)))
    assert reason == "stop_string" and cut == "for i in "


def test_decoder_only_and_fim_formats_give_expected_ids(rt):
    tok = rt.tokenizer
    left, right = "def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n"
    fim = formats.fim_example(tok, left, right)
    s0 = tok.token_id("<extra_id_0>")
    assert fim.encoder_ids == tok.encode(left) + [s0] + tok.encode(right) + [tok.token_id("</s>")]
    assert fim.decoder_prefix == [s0]
    causal = formats.causal_prompt(tok, left)
    assert causal.encoder_ids == [tok.token_id("<unk>"), tok.token_id("</s>")]
    assert causal.decoder_prefix == tok.encode(left)
    assert s0 == max(tok.sentinel_ids) and tok.token_id("<extra_id_1>") == s0 - 1
    # the runtime uses exactly these formats: same tokens as generating from the examples directly
    cfg = GenerationConfig(max_new_tokens=6)
    assert rt.complete(left, right, cfg).token_ids == rt.generate(
        fim, cfg, end_ids=frozenset([tok.eos_id, *tok.sentinel_ids]), end_reason="sentinel").token_ids
    assert rt.complete(left, "  \n", cfg).token_ids == rt.generate(causal, cfg).token_ids
    assert rt.complete(left, right, cfg, mode="causal").token_ids == rt.generate(causal, cfg).token_ids
    with pytest.raises(ValueError, match="mode"):
        rt.complete(left, right, cfg, mode="bogus")  # type: ignore[arg-type]


def test_summarize_and_text_to_code_use_task_prefixes(rt):
    tok = rt.tokenizer
    cfg = GenerationConfig(max_new_tokens=4)
    code = "def add(a, b): return a + b"
    assert rt.summarize(code, cfg).token_ids == rt.generate(formats.code_to_text_example(tok, code), cfg).token_ids
    assert formats.code_to_text_example(tok, code).decoder_prefix == [tok.token_id("[TDEC]")]
    assert formats.text_to_code_example(tok, "add").decoder_prefix == [tok.token_id("[CDEC]")]
    assert rt.text_to_code("add", cfg).token_ids == rt.generate(formats.text_to_code_example(tok, "add"),
                                                                cfg).token_ids


def test_runtime_is_usable_from_threads(rt):
    from concurrent.futures import ThreadPoolExecutor

    cfg = GenerationConfig(max_new_tokens=6)
    expected = [rt.complete(p, config=cfg).token_ids for p in PROMPTS]
    with ThreadPoolExecutor(max_workers=3) as pool:
        got = list(pool.map(lambda p: rt.complete(p, config=cfg).token_ids, PROMPTS * 2))
    assert got == expected * 2


def test_huge_inputs_are_bounded(rt):
    huge = "x = compute(1, 2)\n" * 100_000  # 1.8 MB of text
    t0 = time.perf_counter()
    cfg = GenerationConfig(max_new_tokens=2)
    g = rt.complete(huge + "def f(", "", cfg)
    assert g.token_ids == rt.complete(huge[-20_000:] + "def f(", "", cfg).token_ids
    rt.complete(huge, huge, cfg)
    rt.summarize(huge, cfg)
    assert rt.embed([huge]).shape[0] == 1 and rt.match_scores(huge, [huge]).shape == (1,)
    assert time.perf_counter() - t0 < 20


def test_completion_source_budget(rt):
    left = "value = compute(1, 2)\n" * 50 + "def f("
    right = "\n" + "print(f(1))\n" * 50
    small = GenerationConfig(max_new_tokens=3, max_source_length=40)
    tok = rt.tokenizer
    fim = formats.fim_example(tok, left, right, max_source_length=40)
    assert len(fim.encoder_ids) <= 40
    assert rt.complete(left, right, small).token_ids == rt.generate(
        fim, small, end_ids=frozenset([tok.eos_id, *tok.sentinel_ids]), end_reason="sentinel").token_ids
    causal = formats.causal_prompt(tok, left, max_prefix_length=40)
    assert len(causal.decoder_prefix) == 40
    assert rt.complete(left, "", small).token_ids == rt.generate(causal, small).token_ids
