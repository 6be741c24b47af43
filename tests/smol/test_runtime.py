"""The smol bundle through the torch-free runtime: equal to torch, healed prompts, bad halves."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from model.runtime import BundleError, GenerationConfig, Runtime
from model.runtime.smol_runtime import SmolRuntime, built_decoder_dir, read_smol_manifest
from model.smol.formats import heal_prompt
from model.smol.model_dir import load_smol_dir


def _torch_greedy(model, pair, prompt: str, n: int, banned: list[int]) -> list[int]:
    ids = pair.dec_encode(prompt)
    out: list[int] = []
    with torch.no_grad():
        for _ in range(n):
            states, _ = model.decode(torch.tensor([ids + out]))
            logits = model.logits(states[0, -1])
            logits[banned] = -float("inf")
            tok = int(torch.argmax(logits))
            if tok in model.model_config.eos_ids:
                break
            out.append(tok)
    return out


def test_loads_as_smol_and_embeds_like_torch(smol_bundle: Path, smol_model_dir: Path) -> None:
    rt = Runtime.load(smol_bundle, threads=1, precision="fp32")
    assert isinstance(rt, SmolRuntime) and rt.has_decoder and rt.has_embedding and rt.has_matching
    model, pair, _ = load_smol_dir(smol_model_dir)
    texts = ["read a json file", "def add(a, b):\n    return a + b\n"]
    got = rt.embed(texts)
    rows = pair.enc_batch(texts, 64)
    width = max(map(len, rows))
    ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    with torch.no_grad():
        ref = model.embed(ids, mask).numpy()
    assert np.allclose(got, ref, atol=1e-4)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_greedy_decoding_equals_torch(smol_bundle: Path, smol_model_dir: Path) -> None:
    rt = SmolRuntime.load(smol_bundle, threads=1)
    model, pair, _ = load_smol_dir(smol_model_dir)
    prompt = "def add(a, b):\n    return a"
    gen = rt._generate(pair.dec_encode(prompt), "", None, GenerationConfig(max_new_tokens=12), 64)
    assert gen.token_ids == _torch_greedy(model, pair, prompt, 12, list(rt._banned))


def test_no_repeat_ngram_bans_repeats_of_the_output_only(smol_bundle: Path) -> None:
    rt = SmolRuntime.load(smol_bundle, threads=1)
    prompt = rt.pair.dec_encode("x = 1\nx = 1\nx = 1\nx = 1\nx =")
    plain = rt._generate(prompt, "", None, GenerationConfig(max_new_tokens=24), 64).token_ids
    for n in (2, 3):
        grams = [tuple(plain[i:i + n]) for i in range(len(plain) - n + 1)]
        first_repeat = next(i for i, g in enumerate(grams) if g in grams[:i])  # the tiny model loops
        got = rt._generate(prompt, "", None, GenerationConfig(max_new_tokens=24, no_repeat_ngram=n), 64).token_ids
        own = [tuple(got[i:i + n]) for i in range(len(got) - n + 1)]
        assert len(set(own)) == len(own)
        end = first_repeat + n - 1  # the token that completed the first repeated n-gram
        assert got[:end] == plain[:end] and got[end] != plain[end]  # nothing changes before it
        undrafted = GenerationConfig(max_new_tokens=24, no_repeat_ngram=n, draft_tokens=0)
        assert rt._generate(prompt, "", None, undrafted, 64).token_ids == got  # drafting changes nothing
    # completion keeps its default (off)
    assert rt.complete("x = 1\nx =", "", GenerationConfig(max_new_tokens=24)).token_ids == \
        rt.complete("x = 1\nx =", "", GenerationConfig(max_new_tokens=24, no_repeat_ngram=0)).token_ids


def test_min_new_tokens_holds_every_ending_back(smol_bundle: Path) -> None:
    rt = SmolRuntime.load(smol_bundle, threads=1)
    ending = set(rt._ending.tolist())
    assert set(rt.config.eos_ids) <= ending
    assert {i for i, p in enumerate(rt._pieces) if "\n" in p or p.rstrip().endswith(".")} <= ending
    prompt = rt.pair.dec_encode("x = 1\n")
    plain = rt._generate(prompt, "", None, GenerationConfig(max_new_tokens=10), 64).token_ids
    assert ending & set(plain[:6])  # left alone, the tiny model ends lines at once
    held = rt._generate(prompt, "", None, GenerationConfig(max_new_tokens=10, min_new_tokens=6), 64).token_ids
    assert len(held) == 10 and not ending & set(held[:6])
    full = rt._generate(prompt, "", None, GenerationConfig(max_new_tokens=10, min_new_tokens=10), 64).token_ids
    assert len(full) == 10 and not ending & set(full)


def test_complete_function_with_the_encoder_cross_attends(smol_bundle: Path) -> None:
    rt = SmolRuntime.load(smol_bundle, threads=1)
    prompt = 'def add(a, b):\n    """Add two numbers."""\n'
    config = GenerationConfig(max_new_tokens=12)
    alone = rt.complete_function(prompt, config)
    assert alone.token_ids == rt.complete(prompt, "", config).token_ids
    encoded = len(rt._enc_cache)
    read = rt.complete_function(prompt, config, encoder_text=prompt)
    assert len(rt._enc_cache) == encoded + 1  # the encoder read the prompt
    ids, forced = rt.healed_prompt(prompt, rt.config.max_prefix_length)
    assert read.token_ids == rt._generate(ids, forced, prompt, config, rt.config.max_prefix_length).token_ids


def test_prompt_boundary_is_healed(smol_bundle: Path) -> None:
    rt = SmolRuntime.load(smol_bundle, threads=1)
    prefix = "def add(a, b):\n    "
    assert heal_prompt(prefix) == ("def add(a, b):", "\n    ")
    ids, forced = rt.healed_prompt(prefix, 64)
    assert forced.endswith("\n    ") and len(forced) > len("\n    ")  # the last token is backed off too
    assert rt.pair.dec_decode(ids) + forced == prefix
    gen = rt.complete(prefix, "", GenerationConfig(max_new_tokens=8))
    decoded = rt.pair.dec_decode(gen.token_ids)
    assert decoded.startswith(forced)  # the generation re-typed the cut text first
    assert decoded[len(forced):].startswith(gen.text)  # and the caller gets only what follows
    allowed = {rt._pieces[i] for i in rt._forced_mask("):")}
    assert allowed and all(p.startswith("):") or "):".startswith(p) for p in allowed)


def test_summary_match_and_text_to_code_run(smol_bundle: Path) -> None:
    rt = SmolRuntime.load(smol_bundle, threads=1)
    summary = rt.summarize("def add(a, b):\n    return a + b\n", GenerationConfig(max_new_tokens=6))
    assert "\n" not in summary.text and len(summary.token_ids) <= 6
    scores = rt.match_scores("add two numbers", ["def add(a, b): return a + b", "x = 1", "import os"])
    assert scores.shape == (3,) and np.all((scores > 0) & (scores < 1))
    one = rt.match_scores("add two numbers", ["x = 1"])
    # padding does not change a score (int8 activations are quantised per batch: a small wobble)
    assert np.isclose(one[0], scores[1], atol=2e-3)
    assert len(rt.text_to_code("add two numbers", GenerationConfig(max_new_tokens=4)).token_ids) <= 4


def _copy(bundle: Path, tmp: Path) -> Path:
    dst = tmp / "bundle"
    shutil.copytree(bundle, dst)
    return dst


def test_missing_decoder_keeps_search_and_says_what_to_run(smol_bundle: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODET5P_CACHE", str(tmp_path / "cache"))
    bundle = _copy(smol_bundle, tmp_path)
    shutil.rmtree(bundle / "decoder")
    rt = Runtime.load(bundle, threads=1)
    assert rt.has_embedding and not rt.has_decoder and not rt.has_matching
    assert "codet5p-lsp model build" in rt.decoder_message
    assert built_decoder_dir(bundle, read_smol_manifest(bundle)).parent == tmp_path / "cache" / "decoders"
    assert rt.embed(["x"]).shape == (1, 32)
    with pytest.raises(ValueError, match="model build"):
        rt.complete("def f(")


def test_decoder_built_from_other_parts_is_refused(smol_bundle: Path, tmp_path: Path) -> None:
    bundle = _copy(smol_bundle, tmp_path)
    record = json.loads((bundle / "decoder" / "decoder.json").read_text())
    record["bundle_parts_sha256"] = "0" * 64
    (bundle / "decoder" / "decoder.json").write_text(json.dumps(record))
    rt = Runtime.load(bundle, threads=1)
    assert not rt.has_decoder and "other trained parts" in rt.decoder_message


@pytest.mark.parametrize("part", ["graph", "weights"])
def test_truncated_decoder_graph_is_named(smol_bundle: Path, tmp_path: Path, part: str) -> None:
    """The graph and its external weights file are each checked (size, then hash)."""
    bundle = _copy(smol_bundle, tmp_path)
    record = json.loads((bundle / "decoder" / "decoder.json").read_text())["graph"]
    assert [d["file"] for d in record.get("data", [])] == [record["file"] + ".data"]
    name = record["file"] if part == "graph" else record["data"][0]["file"]
    path = bundle / "decoder" / name
    data = path.read_bytes()
    path.write_bytes(data[:1000])
    rt = Runtime.load(bundle, threads=1)
    assert not rt.has_decoder and name in rt.decoder_message and "truncated" in rt.decoder_message
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, one bit changed
    rt = Runtime.load(bundle, threads=1)
    assert not rt.has_decoder and name in rt.decoder_message and "sha256" in rt.decoder_message


def test_wrong_decoder_tokenizer_is_refused(smol_bundle: Path, tmp_path: Path) -> None:
    from tokenizers import Tokenizer

    from model.runtime.bundle import file_record

    bundle = _copy(smol_bundle, tmp_path)
    dec = bundle / "decoder"
    tok = Tokenizer.from_file(str(dec / "decoder_tokenizer.json"))
    tok.add_tokens([f"<extra_{i}>" for i in range(600)])  # more ids than the decoder has rows
    tok.save(str(dec / "decoder_tokenizer.json"))
    record = json.loads((dec / "decoder.json").read_text())
    record["decoder_tokenizer"] = file_record(dec / "decoder_tokenizer.json")
    (dec / "decoder.json").write_text(json.dumps(record))
    rt = Runtime.load(bundle, threads=1)
    assert not rt.has_decoder and "wrong tokenizer" in rt.decoder_message


def test_corrupt_encoder_is_a_bundle_error(smol_bundle: Path, tmp_path: Path) -> None:
    bundle = _copy(smol_bundle, tmp_path)
    (bundle / "encoder.int8.onnx").write_bytes(b"not onnx")
    with pytest.raises(BundleError, match="encoder.int8.onnx"):
        Runtime.load(bundle, threads=1)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["format_version"] = 99
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="format_version 99"):
        Runtime.load(bundle, threads=1)


def test_wrong_encoder_tokenizer_is_refused(smol_bundle: Path, tmp_path: Path) -> None:
    from tokenizers import Tokenizer

    from model.runtime.bundle import file_record

    bundle = _copy(smol_bundle, tmp_path)
    tok = Tokenizer.from_file(str(bundle / "encoder_tokenizer.json"))
    tok.add_tokens([f"[extra{i}]" for i in range(10)])
    tok.save(str(bundle / "encoder_tokenizer.json"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["encoder_tokenizer"] = file_record(bundle / "encoder_tokenizer.json")
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="encoder_tokenizer.json: 30532 tokens"):
        Runtime.load(bundle, threads=1)


def test_stops_apply_after_the_forced_text(smol_bundle: Path) -> None:
    """A forced start that holds a newline (`)` + `\\n`) must not end a one-line completion."""
    rt = SmolRuntime.load(smol_bundle, threads=1)
    prefix = "def add(a, b):\n    return add(a, b)\n"
    ids, forced = rt.healed_prompt(prefix, 64)
    assert "\n" in forced and not forced.startswith("\n")
    gen = rt.complete(prefix, "", GenerationConfig(max_new_tokens=10, stop_at_newline=True))
    decoded = rt.pair.dec_decode(gen.token_ids)
    assert decoded.startswith(forced)
    assert not gen.text.startswith(forced.strip())  # the re-typed prompt text is never returned
    assert "\n" not in gen.text.strip()


def test_encoder_states_are_cached_by_content(smol_bundle: Path) -> None:
    """A summary asked again (a hover retried after its deadline) or one query re-ranking twice
    runs the encoder once; other text runs it again; the results do not change."""
    rt = SmolRuntime.load(smol_bundle, threads=1)
    calls = []
    encode = rt.graphs.encode
    rt.graphs.encode = lambda rows, pad_id=0: (calls.append(len(rows)), encode(rows, pad_id))[1]  # type: ignore[method-assign]
    code = "def add(a, b):\n    return a + b\n"
    config = GenerationConfig(max_new_tokens=6)
    first = rt.summarize(code, config)
    assert calls == [1]
    assert rt.summarize(code, config).token_ids == first.token_ids and calls == [1]
    rt.summarize(code + "\n# changed\n", config)
    assert calls == [1, 1]
    scores = rt.match_scores("add two numbers", [code, "x = 1"])
    np.testing.assert_array_equal(rt.match_scores("add two numbers", [code, "x = 1"]), scores)
    assert calls == [1, 1, 1]


def test_query_likelihoods_equal_torch(smol_bundle: Path, smol_model_dir: Path) -> None:
    """The likelihood re-rank's scores: log P(text + closing quotes | code's summary prompt)."""
    from model.formats import IGNORE_INDEX
    from model.smol.formats import SUMMARY_END, summary_prompt_ids
    from training.smol.objectives import generation_rows

    rt = SmolRuntime.load(smol_bundle, threads=1)
    codes = ["def add(a, b):\n    return a + b", "import os\nx = os.getcwd()", "class A:\n    pass"]
    text = "add two numbers"
    got = rt.query_likelihoods(text, codes, prompt_tokens=48)
    assert got.shape == (3,) and np.all(got < 0) and np.all(np.isfinite(got))
    assert rt.query_likelihoods(text, []).shape == (0,)
    model, pair, _ = load_smol_dir(smol_model_dir)
    target = pair.dec_encode(text + SUMMARY_END)
    prompts = [summary_prompt_ids(pair, c, 48) for c in codes]
    ids, mask, labels = generation_rows(pair, prompts, [target] * 3, model.model_config.pad_id)
    e = pair.enc_batch(codes, model.model_config.max_source_length)
    width = max(map(len, e))
    e_ids = torch.tensor([r + [pair.enc_pad_id] * (width - len(r)) for r in e])
    e_mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in e])
    with torch.no_grad():
        cross = model.cross_keys_values(model.encode(e_ids, e_mask))
        states, _ = model.decode(ids, mask, None, cross, e_mask)
        logp = torch.log_softmax(model.logits(states).double(), -1)
    scored = labels != IGNORE_INDEX
    ref = (logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0] * scored).sum(1).numpy()
    # the built decoder has 8-bit weights and an int4 embedding table: close, in the same order
    assert np.allclose(got, ref, rtol=1e-2), (got, ref)
    assert list(np.argsort(got)) == list(np.argsort(ref))
