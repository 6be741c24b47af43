"""The fused decoder graph computes what the torch decoder does, and its quantised forms stay close."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from model.runtime.smol_graphs import SmolGraphs
from model.smol.export import DEFAULT_KV_CACHE, DEFAULT_WEIGHTS
from model.smol.fused_graph import build_fused_decoder, half_kv_cache, quantize_weights
from model.smol.model_dir import load_smol_dir


class _NoEncoder:
    def get_outputs(self) -> list:
        return []


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def tiny(smol_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    model, _, _ = load_smol_dir(smol_model_dir)
    model.eval()
    path = tmp_path_factory.mktemp("fused") / "decoder.onnx"
    build_fused_decoder(model.model_config, model.state_dict(), path)
    return model, path


def _cross(model, rng: np.random.Generator, source: int = 5):
    c = model.model_config
    kv = [(rng.standard_normal((1, c.num_heads, source, c.head_dim)).astype(np.float32),
           rng.standard_normal((1, c.num_heads, source, c.head_dim)).astype(np.float32)) for _ in c.cross_layers]
    return kv


def _torch_logits(model, ids: list[int], cross, enc_mask: np.ndarray | None) -> np.ndarray:
    with torch.no_grad():
        cross_t = None if enc_mask is None else [(torch.from_numpy(k), torch.from_numpy(v)) for k, v in cross]
        states, _ = model.decode(torch.tensor([ids]), None, None, cross_t,
                                 None if enc_mask is None else torch.from_numpy(enc_mask))
        return model.logits(states[:, -1]).numpy()


@pytest.mark.parametrize("with_encoder", [False, True])
def test_fused_graph_matches_torch_through_the_cache(tiny, with_encoder: bool) -> None:
    model, path = tiny
    c = model.model_config
    graphs = SmolGraphs(_NoEncoder(), _session(path), c)
    rng = np.random.default_rng(0)
    ids = [int(i) for i in rng.integers(3, c.vocab_size, size=21)]
    if with_encoder:
        cross, emask = _cross(model, rng), np.array([[1, 1, 1, 0, 0]], dtype=np.int64)
    else:
        cross, emask = graphs.cross_inputs(None)
    past = graphs.empty_past(1)
    for start, stop in ((0, 12), (12, 17), (17, 18), (18, 21)):  # a prompt, a tail, single steps
        logits, past = graphs.step([ids[start:stop]], past, cross, emask)
        assert logits.shape == (1, c.vocab_size)
        assert past[0][0].shape == (1, c.num_kv_heads, stop, c.head_dim)
        ref = _torch_logits(model, ids[:stop], cross, emask if with_encoder else None)
        assert np.abs(logits - ref).max() < 1e-4, (start, stop)


def test_right_padded_batch_matches_single_rows(tiny) -> None:
    """Batched matching pads on the right with an empty cache: each row's states at its last real
    token equal that row run alone."""
    model, path = tiny
    c = model.model_config
    graphs = SmolGraphs(_NoEncoder(), _session(path), c)
    rng = np.random.default_rng(1)
    rows = [[int(i) for i in rng.integers(3, c.vocab_size, size=n)] for n in (14, 6, 10)]
    cross = _cross(model, rng)
    emask = np.array([[1, 1, 1, 1, 0]], dtype=np.int64)
    width = max(map(len, rows))
    ids = np.full((3, width), c.pad_id, dtype=np.int64)
    mask = np.zeros((3, width), dtype=np.int64)
    for r, row in enumerate(rows):
        ids[r, :len(row)], mask[r, :len(row)] = row, 1
    batch_cross = [(np.repeat(k, 3, 0), np.repeat(v, 3, 0)) for k, v in cross]
    out = graphs.run(ids, graphs.empty_past(3), batch_cross, np.repeat(emask, 3, 0), mask)
    for r, row in enumerate(rows):
        alone = graphs.run([row], graphs.empty_past(1), cross, emask)
        assert np.abs(out["itm_logits"][r, len(row) - 1] - alone["itm_logits"][0, -1]).max() < 1e-4


@pytest.mark.parametrize("weights,head,op", [("int4", "int8", "MatMulNBits"), ("int4", "int4", "MatMulNBits"),
                                             ("int8-block", "int8", "MatMulNBits"),
                                             ("int4-asym", "int8", "MatMulNBits"), ("int4-hqq", "int8", "MatMulNBits"),
                                             ("int8", "int8", "MatMulInteger"), ("int8-channel", "int8", "MatMulInteger")])
def test_quantised_graphs_stay_close(tiny, tmp_path: Path, weights: str, head: str, op: str) -> None:
    model, path = tiny
    c = model.model_config
    out = tmp_path / f"decoder.{weights}.onnx"
    record = quantize_weights(path, out, weights, head)
    assert record["weights"] == ("int8" if weights == "int8-channel" else weights)
    assert record["head"] == head
    nodes = onnx.load(str(out)).graph.node
    ops = {n.op_type for n in nodes}
    if weights in ("int4", "int4-asym", "int4-hqq", "int8-block"):
        bits = {n.name.split("_Q")[0]: next(a.i for a in n.attribute if a.name == "bits")
                for n in nodes if n.op_type == "MatMulNBits"}
        assert bits["lm_head"] == (4 if head == "int4" else 8)
        assert {b for name, b in bits.items() if name != "lm_head"} == {4 if weights.startswith("int4") else 8}
        zero_points = {n.name.split("_Q")[0] for n in nodes if n.op_type == "MatMulNBits" and len(n.input) > 3 and n.input[3]}
        assert bool(zero_points - {"lm_head"}) == (weights in ("int4-asym", "int4-hqq"))
    assert op in ops and "MatMul" in ops  # the matching head (and cross scores) stay fp32
    assert "GroupQueryAttention" in ops
    exact = SmolGraphs(_NoEncoder(), _session(path), c)
    quant = SmolGraphs(_NoEncoder(), _session(out), c)
    cross, emask = exact.cross_inputs(None)
    rng = np.random.default_rng(2)
    agree, n = 0, 12
    for _ in range(n):
        ids = [[int(i) for i in rng.integers(3, c.vocab_size, size=16)]]
        a, _ = exact.step(ids, exact.empty_past(1), cross, emask)
        b, _ = quant.step(ids, quant.empty_past(1), cross, emask)
        assert b.shape == a.shape and np.isfinite(b).all()
        # random tiny weights are the worst case for quantisation; still the same distribution
        assert np.corrcoef(a[0], b[0])[0, 1] > 0.9
        agree += int(a.argmax() == b.argmax())
    assert agree >= n // 2


def test_bad_quantisation_choice_is_refused(tiny, tmp_path: Path) -> None:
    _, path = tiny
    with pytest.raises(ValueError, match="int4"):
        quantize_weights(path, tmp_path / "x.onnx", "int3")


def test_build_records_graph_and_quantisation(smol_bundle: Path) -> None:
    record = json.loads((smol_bundle / "decoder" / "decoder.json").read_text())
    assert record["graph_kind"] == "fused"
    assert record["quantization"]["weights"] == DEFAULT_WEIGHTS
    assert record["quantization"]["kv_cache"] == DEFAULT_KV_CACHE
    assert max(record["parity"].values()) < 2e-3


def test_float16_cache_follows_the_float32_one(tiny, tmp_path: Path) -> None:
    """`half_kv_cache` makes the cache float16 in and out (half the bytes a position) and the
    logits stay those of the float32 cache within float16 rounding, through the cache and on
    a shared in-place buffer."""
    model, path = tiny
    c = model.model_config
    halved = onnx.load(str(path))
    assert half_kv_cache(halved) == c.num_layers
    out = tmp_path / "decoder.kv16.onnx"
    onnx.save_model(halved, str(out))
    full = SmolGraphs(_NoEncoder(), _session(path), c)
    half = SmolGraphs(_NoEncoder(), _session(out), c)
    assert full.kv_dtype == np.float32 and half.kv_dtype == np.float16
    cross, emask = full.cross_inputs(None)
    ids = [int(i) for i in np.random.default_rng(3).integers(3, c.vocab_size, size=20)]
    past_f, past_h = full.empty_past(1), half.empty_past(1)
    buf = half.new_buffer(4)  # grows on the way
    for start, stop in ((0, 11), (11, 15), (15, 16), (16, 20)):
        a, past_f = full.step([ids[start:stop]], past_f, cross, emask)
        b, past_h = half.step([ids[start:stop]], past_h, cross, emask)
        on_buf = half.advance(ids[start:stop], buf, cross, emask)
        assert past_h[0][0].dtype == np.float16 and past_h[0][0].shape[2] == stop
        assert np.abs(a - b).max() < 2e-2 * max(1.0, float(np.abs(a).max()))
        assert int(a.argmax()) == int(b.argmax())
        np.testing.assert_allclose(on_buf, b, atol=1e-4)
    assert buf.keys[0].dtype == np.float16 and buf.nbytes * 2 == sum(
        a.size * 4 for a in buf.keys + buf.values)
    with pytest.raises(ValueError, match="GroupQueryAttention"):
        half_kv_cache(onnx.ModelProto())


def test_int8_embedding_rows_stay_close(tiny, tmp_path: Path) -> None:
    """The int8 embedding (a scale per row) reads the same rows as the fp32 table, within
    int8 rounding; an unknown embedding choice is refused."""
    model, path = tiny
    c = model.model_config
    outs = {}
    for emb in ("fp32", "int8"):
        out = tmp_path / f"decoder.e{emb}.onnx"
        record = quantize_weights(path, out, "fp32", "fp32", embedding=emb)
        assert record["embedding"] == emb
        graphs = SmolGraphs(_NoEncoder(), _session(out), c)
        cross, emask = graphs.cross_inputs(None)
        ids = [[int(i) for i in np.random.default_rng(1).integers(3, c.vocab_size, size=12)]]
        outs[emb], _ = graphs.step(ids, graphs.empty_past(1), cross, emask)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "decoder.eint8.onnx")).graph.node}
    assert "GatherBlockQuantized" not in ops and "Cast" in ops
    assert np.corrcoef(outs["fp32"][0], outs["int8"][0])[0, 1] > 0.999
    with pytest.raises(ValueError, match="embedding"):
        quantize_weights(path, tmp_path / "x.onnx", "fp32", "fp32", embedding="int2")


def test_bad_cache_choice_is_refused(smol_bundle: Path, tmp_path: Path) -> None:
    from model.smol.export import build_decoder

    with pytest.raises(ValueError, match="kv_cache"):
        build_decoder(smol_bundle, tmp_path / "d", kv_cache="int8")
    with pytest.raises(ValueError, match="float32"):
        build_decoder(smol_bundle, tmp_path / "d", graph="traced", weights="fp32", head="fp32", kv_cache="float16")
    assert not (tmp_path / "d").exists()


def _on_q41_grid(state: dict) -> dict:
    """The decoder's layer weights put on GGUF Q4_1's grid (blocks of 32 inputs: d*q + m)."""
    out = dict(state)
    for key, w in state.items():
        if key.startswith("model.layers.") and key.endswith("_proj.weight"):
            v = w.detach().double().reshape(w.shape[0], -1, 32)
            lo, hi = v.min(-1, keepdim=True).values, v.max(-1, keepdim=True).values
            d = (hi - lo) / 15
            out[key] = (lo + d * torch.round((v - lo) / d)).reshape(w.shape).float()
    return out


def test_exact_q41_copy_computes_the_grid_weights(tmp_path: Path) -> None:
    from model.smol.config import get_smol_config
    from model.smol.fused_graph import q41_blocks
    from model.smol.modeling import SmolCodeT5p

    c = get_smol_config("smol-tiny", d_model=64, num_heads=4, d_ff=128)  # inputs in blocks of 32
    torch.manual_seed(0)
    state = _on_q41_grid(SmolCodeT5p(c).state_dict())
    fp32 = tmp_path / "decoder.onnx"
    build_fused_decoder(c, state, fp32)
    w = state["model.layers.0.mlp.down_proj.weight"].numpy().T  # [K, N] as the graph holds it
    q, d, m = q41_blocks(w)
    assert q.max() == 15 and q.min() == 0
    assert np.allclose(d[..., None] * q + m[..., None], w.T.reshape(q.shape), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="grid"):
        q41_blocks(w + np.float32(1e-3) * np.random.default_rng(0).standard_normal(w.shape).astype(np.float32))
    graphs = {"fp32": fp32}
    for weights, level in (("int4-q41", 0), ("int4-q41", 4), ("int4", 0)):
        graphs[(weights, level)] = tmp_path / f"decoder.{weights}.{level}.onnx"
        record = quantize_weights(fp32, graphs[(weights, level)], weights, "fp32", embedding="fp32",
                                  accuracy_level=level)
    assert record and quantize_weights(fp32, tmp_path / "q.onnx", "int4-q41", "int8")["block_size"] == 32
    nodes = onnx.load(str(graphs[("int4-q41", 0)])).graph.node
    bits = [next(a.i for a in n.attribute if a.name == "bits") for n in nodes if n.op_type == "MatMulNBits"]
    assert bits.count(4) == 4 * c.num_layers  # the decoder's own: exact 4-bit
    assert bits.count(8) == 2 * len(c.cross_layers)  # the trained cross-attention: 8-bit blocks
    assert all(len(n.input) == 3 for n in nodes if n.op_type == "MatMulNBits")  # no zero points
    run = {name: SmolGraphs(_NoEncoder(), _session(path), c) for name, path in graphs.items()}
    cross, emask = run["fp32"].cross_inputs(None)
    ids = [[int(i) for i in np.random.default_rng(3).integers(3, c.vocab_size, size=16)]]
    logits = {name: g.step(ids, g.empty_past(1), cross, emask)[0] for name, g in run.items()}
    err = {name: float(np.abs(v - logits["fp32"]).max()) for name, v in logits.items() if name != "fp32"}
    assert err[("int4-q41", 0)] < 1e-4  # float activations: the same function as the grid weights
    assert err[("int4-q41", 4)] < err[("int4", 0)] / 3  # int8 activations still beat re-rounded weights
    with pytest.raises(ValueError, match="layers"):
        quantize_weights(fp32, tmp_path / "x.onnx", "int8-block", "int4-q41")
