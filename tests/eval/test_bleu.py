"""Smoothed BLEU-4 (CodeXGLUE evaluator definition) against scores computed by hand."""
from __future__ import annotations

import math

import pytest

from training.eval.bleu import corpus_smoothed_bleu, nist_tokens, sentence_bleu, split_puncts


def test_preprocessing_lowercases_and_splits_punctuation():
    assert split_puncts("  Return a Copy of the list.") == "return a copy of the list ."
    assert nist_tokens(split_puncts("Return x, y.")) == ["return", "x", ",", "y", "."]


def test_identical_sentence_scores_100():
    assert sentence_bleu("returns the sum of two numbers", "returns the sum of two numbers") == pytest.approx(100.0)


def test_hand_computed_shorter_hypothesis():
    # ref: returns the sum of two numbers (6 tokens); hyp: returns the sum of numbers (5)
    # p1 = 5/5; p2 = (3+1)/(4+1); p3 = (2+1)/(3+1); p4 = (1+1)/(2+1)  (smooth-1 for n >= 2)
    # brevity: min(0, 1 - (6+1)/(5+1)) = -1/6
    expected = 100 * math.exp((math.log(1.0) + math.log(4 / 5) + math.log(3 / 4) + math.log(2 / 3)) / 4 - 1 / 6)
    assert expected == pytest.approx(67.318, abs=1e-3)
    assert sentence_bleu("returns the sum of two numbers", "returns the sum of numbers") == pytest.approx(expected)


def test_hand_computed_reordered_with_punctuation_and_case():
    # ref tokens: return a copy of the list .  (7); hyp: return the list copy (4)
    # p1 = 4/4; bigrams: only "the list" matches -> (1+1)/(3+1); p3 = (0+1)/(2+1); p4 = (0+1)/(1+1)
    # brevity: 1 - (7+1)/(4+1) = -0.6
    expected = 100 * math.exp((math.log(2 / 4) + math.log(1 / 3) + math.log(1 / 2)) / 4 - 0.6)
    assert expected == pytest.approx(29.487, abs=1e-3)
    assert sentence_bleu("Return a copy of the list.", "RETURN the list copy") == pytest.approx(expected)


def test_longer_hypothesis_has_no_brevity_penalty():
    # ref: open a file (3); hyp: open a file now please (5)
    # p1 = 3/5; p2 = (2+1)/(4+1); p3 = (1+1)/(3+1); p4 = (0+1)/(2+1); bp = 0 (min(0, 1 - 4/6))
    expected = 100 * math.exp((math.log(3 / 5) + math.log(3 / 5) + math.log(2 / 4) + math.log(1 / 3)) / 4)
    assert sentence_bleu("open a file", "open a file now please") == pytest.approx(expected)


def test_no_unigram_match_is_zero_and_empty_hypothesis_is_brevity_only():
    assert sentence_bleu("open a file", "close sockets quickly") == pytest.approx(0.0, abs=1e-9)
    # empty hypothesis: every log-precision is 0 (0/0 guarded), brevity 1 - (3+1)/(0+1) = -3
    assert sentence_bleu("open a file", "") == pytest.approx(100 * math.exp(-3))


def test_multiple_references_use_shortest_length_and_max_counts():
    # refs "the cat" (2) and "a cat sat" (3); hyp "the cat sat": p1 = 3/3, p2 = (2+1)/(2+1),
    # p3 = (0+1)/(1+1), p4 = (0+1)/(0+1); shortest ref 2 -> bp = min(0, 1 - 3/4) = 0
    expected = 100 * math.exp(math.log(1 / 2) / 4)
    assert sentence_bleu(["the cat", "a cat sat"], "the cat sat") == pytest.approx(expected)


def test_corpus_score_is_mean_of_sentence_scores():
    refs = ["returns the sum of two numbers", "open a file"]
    hyps = ["returns the sum of numbers", "open a file"]
    assert corpus_smoothed_bleu(refs, hyps) == pytest.approx((sentence_bleu(refs[0], hyps[0]) + 100) / 2)
    with pytest.raises(ValueError):
        corpus_smoothed_bleu(refs, hyps[:1])
