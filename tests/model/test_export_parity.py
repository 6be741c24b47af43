"""Export: torch <-> ONNX fp32 parity, int8 agreement, manifest contents, refusal on failed parity."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from model import formats
from model.export import ExportError, ExportOptions, export_bundle
from model.modeling import load_model_dir
from model.runtime import GenerationConfig, Runtime

CODE = ["def add(a, b):\n    return a + b", "for x in items:\n    print(x)", "class A:\n    pass"]


def _sessions(bundle, precision="fp32"):
    manifest = json.loads((bundle / "manifest.json").read_text())
    return {name: ort.InferenceSession(str(bundle / entry[precision]["file"]), providers=["CPUExecutionProvider"])
            for name, entry in manifest["graphs"].items()}


@pytest.fixture(scope="module")
def torch_model(tiny_model_dir):
    return load_model_dir(tiny_model_dir)


def test_fp32_logits_match_torch(torch_model, tiny_bundle):
    model, tok = torch_model
    sess = _sessions(tiny_bundle)
    examples = [formats.fim_example(tok, c[:10], c[10:]) for c in CODE]
    examples += [formats.code_to_text_example(tok, c) for c in CODE]
    examples += [formats.causal_prompt(tok, c) for c in CODE]
    worst = 0.0
    with torch.no_grad():
        for ex in examples:
            enc = np.asarray([ex.encoder_ids], dtype=np.int64)
            dec = np.asarray([[0] + ex.decoder_prefix + tok.encode("x = 1")], dtype=np.int64)
            mask = np.ones_like(enc)
            ref = model(input_ids=torch.from_numpy(enc), attention_mask=torch.from_numpy(mask),
                        decoder_input_ids=torch.from_numpy(dec)).logits.numpy()
            hidden = sess["encoder"].run(None, {"input_ids": enc, "attention_mask": mask})[0]
            for t in range(1, dec.shape[1] + 1):  # the decoder graph returns the last position only
                got = sess["decoder"].run(None, {"input_ids": dec[:, :t], "encoder_hidden_states": hidden,
                                                 "encoder_attention_mask": mask})[0]
                assert got.shape == (1, 1, ref.shape[-1])
                worst = max(worst, float(np.abs(got[:, -1] - ref[:, t - 1]).max()))
    assert worst < 1e-4


def test_fp32_heads_match_torch(torch_model, tiny_bundle):
    model, tok = torch_model
    sess = _sessions(tiny_bundle)
    ids, mask = formats.pad_batch([formats.embedding_input(tok, c) for c in CODE], tok.pad_id)
    ids, mask = np.asarray(ids), np.asarray(mask)
    with torch.no_grad():
        ref = model.embed(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        hidden, emb = sess["encoder"].run(None, {"input_ids": ids, "attention_mask": mask})
        np.testing.assert_allclose(emb, ref, atol=1e-5)
        pairs = [formats.matching_inputs(tok, "add numbers", c) for c in CODE]
        e_ids, e_mask = (np.asarray(a) for a in formats.pad_batch([p[0] for p in pairs], tok.pad_id))
        d_ids, d_mask = (np.asarray(a) for a in formats.pad_batch([p[1] for p in pairs], tok.pad_id))
        h = model.encode(torch.from_numpy(e_ids), torch.from_numpy(e_mask))
        ref_itm = model.match_logits(h, torch.from_numpy(e_mask), torch.from_numpy(d_ids),
                                     torch.from_numpy(d_mask)).numpy()
    got = sess["matching"].run(None, {"decoder_input_ids": d_ids, "decoder_attention_mask": d_mask,
                                      "encoder_hidden_states": h.numpy(), "encoder_attention_mask": e_mask})[0]
    np.testing.assert_allclose(got, ref_itm, atol=1e-4)
    rt = Runtime.load(tiny_bundle, threads=1, precision="fp32")
    probs = np.exp(ref_itm) / np.exp(ref_itm).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(rt.match_scores("add numbers", CODE), probs[:, 1], atol=1e-5)


def test_embeddings_unit_norm(tiny_bundle):
    for precision in ("fp32", "int8"):
        rt = Runtime.load(tiny_bundle, threads=1, precision=precision)
        texts = ["", "x", "def f():\n    return 1\n" * 40] + [f"item {i}" for i in range(20)]
        emb = rt.embed(texts, batch_size=7)
        assert emb.shape == (len(texts), rt.config.embed_dim) and emb.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
        # order is preserved although batches are length-sorted (int8 activation scales depend on
        # the batch, so there only nearly)
        alone = rt.embed([texts[5]])[0]
        if precision == "fp32":
            np.testing.assert_allclose(alone, emb[5], atol=1e-5)
        else:
            assert float(alone @ emb[5]) > 0.99


def test_int8_greedy_agreement(tiny_bundle):
    """Measured on the tiny random model: 7 of 8 prompts identical (random logits are near-ties);
    the `small` config measured 8 of 8 (see README). We require at least 6 of 8."""
    fp = Runtime.load(tiny_bundle, threads=1, precision="fp32")
    q8 = Runtime.load(tiny_bundle, threads=1, precision="int8")
    from model.export import PARITY_CODE

    cfg = GenerationConfig(max_new_tokens=16)
    same = sum(fp.complete(c[:len(c) // 2], c[len(c) // 2:], cfg).token_ids ==
               q8.complete(c[:len(c) // 2], c[len(c) // 2:], cfg).token_ids for c in PARITY_CODE)
    assert same >= 6, f"int8 agreed with fp32 on only {same}/{len(PARITY_CODE)} prompts"


def test_manifest_contents(tiny_bundle, tiny_model_dir):
    m = json.loads((tiny_bundle / "manifest.json").read_text())
    cfg = json.loads((tiny_model_dir / "config.json").read_text())["model"]
    assert m["format_version"] == 1 and m["config"] == cfg and m["opset"] == 17
    tok_bytes = (tiny_bundle / "tokenizer.json").read_bytes()
    assert m["tokenizer"]["sha256"] == hashlib.sha256(tok_bytes).hexdigest()
    assert set(m["graphs"]) == {"encoder", "decoder", "decoder_with_past", "matching"}
    for entry in m["graphs"].values():
        for precision in ("fp32", "int8"):
            rec = entry[precision]
            path = tiny_bundle / rec["file"]
            assert rec["size"] == path.stat().st_size
            assert rec["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert rec["inputs"] and rec["outputs"]
    assert m["quantization"]["weight_type"] == "int8"
    assert sorted(m["quantization"]["graphs"]) == sorted(m["graphs"])
    parity = m["parity"]
    assert parity["max_logit_diff"] < 1e-4
    assert set(parity["max_abs_diff"]) >= {"decoder.logits", "decoder_with_past.logits", "encoder.embedding",
                                           "matching.itm_logits"}
    assert 0.0 <= parity["int8_vs_fp32_greedy"]["token_agreement"] <= 1.0


def test_export_refuses_failed_parity(tiny_model_dir, tmp_path):
    out = tmp_path / "bundle"
    with pytest.raises(ExportError, match="parity check failed"):
        export_bundle(tiny_model_dir, out, ExportOptions(max_logit_diff=0.0, quantize=False))
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary export directory is gone too


def test_export_refuses_existing_destination(tiny_model_dir, tmp_path):
    (tmp_path / "bundle").mkdir()
    with pytest.raises(ExportError, match="already exists"):
        export_bundle(tiny_model_dir, tmp_path / "bundle")


def test_external_data_graphs(tiny_model_dir, tmp_path, monkeypatch):
    """Graphs over 2 GB (codet5p-770m) carry external weight files; the bundle records and checks them."""
    monkeypatch.setenv("FORCE_ONNX_EXTERNAL_DATA", "1")  # optimum's switch: as if the graphs were huge
    out = export_bundle(tiny_model_dir, tmp_path / "bundle", ExportOptions(quantize=False))
    m = json.loads((out / "manifest.json").read_text())
    data = m["graphs"]["decoder"]["fp32"]["data"]
    assert data and (out / data[0]["file"]).is_file()
    rt = Runtime.load(out, threads=1)
    assert rt.embed(["x"]).shape == (1, rt.config.embed_dim)
    (out / data[0]["file"]).write_bytes(b"")
    from model.runtime import BundleError

    with pytest.raises(BundleError, match="external data of decoder graph"):
        Runtime.load(out)
