"""The smol decoder written directly as a fused ONNX graph (onnx.helper, no tracing).

The traced export (`export.export_decoder_graph`) spends most of a generated token in the
overhead of ~1,500 small nodes (30 layers of reshapes, rotary slices, repeat_interleave,
dynamic quantisation of every activation). This graph computes the same function with ONNX
Runtime's fused contrib ops:

- `SimplifiedLayerNormalization` / `SkipSimplifiedLayerNormalization` (RMSNorm, with the
  residual add folded in),
- `GroupQueryAttention` per layer: packed QKV from one MatMul, rotary embedding inside the op
  (`do_rotary`, cos/sin caches of `max_positions` rows, LLaMA's half-split layout), the
  self-attention cache in and out in `[b, kv_heads, p, head_dim]`,
- one MatMul for the MLP's gate and up projections,
- the cross-attention of `config.cross_layers` in plain ops (one layer, rarely the cost).

Its inputs and outputs are those of the traced graph (`export.decoder_io`), so `SmolGraphs` and
the prompt cache run either, plus `logits_rows` (int64 [1]) in and `row_logits` [b, n, V] out:
the logits of the last n positions, which drafted decoding (`runtime.draft`) checks at once. Padding: `GroupQueryAttention` reads each row's
length from `attention_mask` (`seqlens_k = sum(mask) - 1`), which is right padding; the
runtime pads only right (batched matching, empty cache), and batch-1 completion has none.

`quantize_weights` then quantises the weights: "int8" with `quantize_dynamic` (int8 weights,
activations quantised per call: ONNX Runtime's integer GEMM), "int4" with `MatMulNBits` (blocks
of 32, symmetric, accuracy level 4) and the embedding table as int4 `GatherBlockQuantized`.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from model.smol.config import SmolConfig

log = logging.getLogger(__name__)

MS = "com.microsoft"
FUSED_OPSET = 21  # int4 initializers (GatherBlockQuantized) need 21
DEFAULT_MAX_POSITIONS = 8192  # rows of the rotary caches: the longest prompt + generation


class _Builder:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], n_out: int = 1, domain: str = "", name: str | None = None,
           outputs: list[str] | None = None, **attrs: Any) -> list[str]:
        node_name = name or self.name(op_type)
        outs = outputs or [f"{node_name}/out{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=node_name, domain=domain or None, **attrs))
        return outs

    def one(self, op_type: str, inputs: list[str], **kw: Any) -> str:
        return self.op(op_type, inputs, **kw)[0]

    def matmul(self, x: str, weight: np.ndarray, name: str) -> str:
        """x @ weight.T for a torch Linear weight [out, in] (stored [in, out] as ONNX wants)."""
        w = self.const(f"{name}.weight", weight.T.astype(np.float32))
        return self.one("MatMul", [x, w], name=name)


def rotary_caches(config: SmolConfig, max_positions: int) -> tuple[np.ndarray, np.ndarray]:
    """cos, sin [max_positions, head_dim / 2] as in `modeling.rotary` (half-split layout)."""
    hd = config.head_dim
    inv = 1.0 / (config.rope_theta ** (np.arange(0, hd, 2, dtype=np.float32) / hd))
    freqs = np.arange(max_positions, dtype=np.float32)[:, None] * inv[None, :]
    return np.cos(freqs).astype(np.float32), np.sin(freqs).astype(np.float32)


def _weights(state: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: (v.detach().float().cpu().numpy() if hasattr(v, "detach") else np.asarray(v, dtype=np.float32))
            for k, v in state.items()}


def build_fused_decoder(config: SmolConfig, state: dict[str, Any], path: str | Path,
                        max_positions: int = DEFAULT_MAX_POSITIONS) -> Path:
    """Write the fp32 fused decoder graph of `config` with the weights `state` (a
    `SmolCodeT5p.state_dict()`: `model.*`, `lm_head.weight` unless tied, `cross.*`,
    `itm_head.*`) to `path`."""
    c = config
    w = _weights(state)
    g = _Builder()
    eps = float(c.rms_norm_eps)
    from model.smol.export import decoder_io  # the traced graph's names: one contract for both

    in_names, out_names = decoder_io(c)
    cross_slot = {layer: k for k, layer in enumerate(c.cross_layers)}

    # ---- shared inputs --------------------------------------------------------------------
    mask_sum = g.one("ReduceSum", ["attention_mask", g.const("axes_1", np.array([1], dtype=np.int64))], keepdims=0)
    seqlens_k = g.one("Cast", [g.one("Sub", [mask_sum, g.const("one_i64", np.array(1, dtype=np.int64))])],
                      to=TensorProto.INT32)
    total_len = g.one("Cast", [g.one("Gather", [g.one("Shape", ["attention_mask"]),
                                                g.const("idx_1", np.array(1, dtype=np.int64))], axis=0)],
                      to=TensorProto.INT32)
    cos, sin = rotary_caches(c, max_positions)
    cos_name, sin_name = g.const("rotary.cos", cos), g.const("rotary.sin", sin)

    # encoder mask -> additive bias [b, 1, 1, s] and "any encoder token" [b, 1, 1, 1]
    enc_f = g.one("Cast", ["encoder_attention_mask"], to=TensorProto.FLOAT)
    enc_f4 = g.one("Unsqueeze", [enc_f, g.const("axes_12", np.array([1, 2], dtype=np.int64))])
    enc_bias = g.one("Mul", [g.one("Sub", [enc_f4, g.const("one_f", np.array(1.0, dtype=np.float32))]),
                             g.const("big_f", np.array(3.0e38, dtype=np.float32))])
    enc_any = g.one("Cast", [g.one("Greater", [g.one("ReduceMax", [enc_f4, g.const("axes_3", np.array([3], dtype=np.int64))],
                                                     keepdims=1),
                                              g.const("zero_f", np.array(0.0, dtype=np.float32))])],
                    to=TensorProto.FLOAT)

    # ---- embedding and layers -------------------------------------------------------------
    table = w["model.embed_tokens.weight"]
    x = g.one("Gather", [g.const("model.embed_tokens.weight", table), "input_ids"], axis=0, name="embed_tokens")
    normed = g.one("SimplifiedLayerNormalization", [x, g.const("model.layers.0.input_layernorm.weight",
                                                               w["model.layers.0.input_layernorm.weight"])],
                   axis=-1, epsilon=eps, name="layers.0.input_norm")
    residual = x
    for i in range(c.num_layers):
        p = f"model.layers.{i}."
        qkv_w = np.concatenate([w[p + "self_attn.q_proj.weight"], w[p + "self_attn.k_proj.weight"],
                                w[p + "self_attn.v_proj.weight"]], axis=0)
        qkv = g.matmul(normed, qkv_w, f"layers.{i}.qkv_proj")
        attn, present_k, present_v = g.op(
            "GroupQueryAttention",
            [qkv, "", "", f"past_key_values.{i}.key", f"past_key_values.{i}.value", seqlens_k, total_len,
             cos_name, sin_name],
            outputs=[f"layers.{i}.attn", f"present.{i}.key", f"present.{i}.value"], domain=MS,
            name=f"layers.{i}.gqa", num_heads=c.num_heads, kv_num_heads=c.num_kv_heads, do_rotary=1,
            rotary_interleaved=0, scale=1.0 / math.sqrt(c.head_dim))
        attn_out = g.matmul(attn, w[p + "self_attn.o_proj.weight"], f"layers.{i}.o_proj")
        if i in cross_slot:
            k = f"cross.{i}."
            cross_in, _, _, residual = g.op("SkipSimplifiedLayerNormalization",
                                            [residual, attn_out, g.const(k + "norm.weight", w[k + "norm.weight"])],
                                            n_out=4, domain=MS, epsilon=eps, name=f"layers.{i}.cross_norm")
            cross_out = _cross_attention(g, c, w, i, cross_in, cross_slot[i], enc_bias, enc_any)
            post_in = cross_out
        else:
            post_in = attn_out
        normed, _, _, residual = g.op("SkipSimplifiedLayerNormalization",
                                      [residual, post_in, g.const(p + "post_attention_layernorm.weight",
                                                                  w[p + "post_attention_layernorm.weight"])],
                                      n_out=4, domain=MS, epsilon=eps, name=f"layers.{i}.post_norm")
        gate_up = g.matmul(normed, np.concatenate([w[p + "mlp.gate_proj.weight"], w[p + "mlp.up_proj.weight"]], axis=0),
                           f"layers.{i}.gate_up_proj")
        gate, up = g.op("Split", [gate_up, g.const(g.name("split"), np.array([c.d_ff, c.d_ff], dtype=np.int64))],
                        n_out=2, axis=-1)
        act = g.one("Mul", [g.one("Mul", [gate, g.one("Sigmoid", [gate])]), up])
        mlp_out = g.matmul(act, w[p + "mlp.down_proj.weight"], f"layers.{i}.down_proj")
        next_norm = (f"model.layers.{i + 1}.input_layernorm.weight" if i + 1 < c.num_layers else "model.norm.weight")
        normed, _, _, residual = g.op("SkipSimplifiedLayerNormalization",
                                      [residual, mlp_out, g.const(next_norm, w[next_norm])],
                                      n_out=4, domain=MS, epsilon=eps, name=f"layers.{i}.next_norm")
    states = normed  # final-norm states [b, t, d]

    # ---- heads ----------------------------------------------------------------------------
    # logits of the last `logits_rows` positions ([b, n, V]: n > 1 checks drafted tokens) and
    # of the last one ([b, V]); a prompt's other positions never reach the output projection
    end = g.const("ends_last", np.array([np.iinfo(np.int64).max], dtype=np.int64))
    axis1 = g.const("axes_slice_1", np.array([1], dtype=np.int64))
    rows = g.one("Slice", [states, g.one("Neg", ["logits_rows"]), end, axis1])
    head = table if c.tie_word_embeddings else w["lm_head.weight"]
    g.op("MatMul", [rows, g.const("lm_head.weight", head.T.astype(np.float32))], outputs=["row_logits"],
         name="lm_head")
    last = g.one("Slice", ["row_logits", g.const("starts_last", np.array([-1], dtype=np.int64)), end, axis1])
    g.op("Reshape", [last, g.const("shape_logits", np.array([-1, c.vocab_size], dtype=np.int64))], outputs=["logits"])
    itm = g.matmul(states, w["itm_head.weight"], "itm_head")
    g.op("Add", [itm, g.const("itm_head.bias", w["itm_head.bias"])], outputs=["itm_logits"])

    # ---- graph ----------------------------------------------------------------------------
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "new"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "total"])]
    for i in range(c.num_layers):
        for kv in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kv}", TensorProto.FLOAT,
                                                        ["batch", c.num_kv_heads, "past", c.head_dim]))
    for i in c.cross_layers:
        for kv in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"cross.{i}.{kv}", TensorProto.FLOAT,
                                                        ["batch", c.num_heads, "source", c.head_dim]))
    inputs.append(helper.make_tensor_value_info("encoder_attention_mask", TensorProto.INT64, ["batch", "source"]))
    inputs.append(helper.make_tensor_value_info("logits_rows", TensorProto.INT64, [1]))
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", c.vocab_size]),
               helper.make_tensor_value_info("itm_logits", TensorProto.FLOAT, ["batch", "new", 2])]
    for i in range(c.num_layers):
        for kv in ("key", "value"):
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kv}", TensorProto.FLOAT,
                                                         ["batch", c.num_kv_heads, "total", c.head_dim]))
    outputs.append(helper.make_tensor_value_info("row_logits", TensorProto.FLOAT, ["batch", "rows", c.vocab_size]))
    assert [v.name for v in inputs] == in_names + ["logits_rows"]
    assert [v.name for v in outputs] == out_names + ["row_logits"]
    graph = helper.make_graph(g.nodes, "smol_decoder_fused", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", FUSED_OPSET), helper.make_opsetid(MS, 1)],
                              producer_name="codet5p-lsp")
    path = Path(path)
    onnx.save_model(model, str(path), save_as_external_data=False)
    return path


def _cross_attention(g: _Builder, c: SmolConfig, w: dict[str, np.ndarray], layer: int, x: str, slot: int,
                     enc_bias: str, enc_any: str) -> str:
    """Cross-attention of `layer` on normed states `x` [b, t, d] -> [b, t, d] (plain ops)."""
    k = f"cross.{layer}."
    q = g.matmul(x, w[k + "q_proj.weight"], f"layers.{layer}.cross_q_proj")
    shape4 = g.const(g.name("shape"), np.array([0, 0, c.num_heads, c.head_dim], dtype=np.int64))
    q = g.one("Transpose", [g.one("Reshape", [q, shape4])], perm=[0, 2, 1, 3])  # [b, H, t, hd]
    keys_t = g.one("Transpose", [f"cross.{layer}.key"], perm=[0, 1, 3, 2])  # [b, H, hd, s]
    scores = g.one("Mul", [g.one("MatMul", [q, keys_t]),
                           g.const(g.name("scale"), np.array(1.0 / math.sqrt(c.head_dim), dtype=np.float32))])
    probs = g.one("Softmax", [g.one("Add", [scores, enc_bias])], axis=-1)
    ctx = g.one("Mul", [g.one("MatMul", [probs, f"cross.{layer}.value"]), enc_any])  # [b, H, t, hd]
    ctx = g.one("Reshape", [g.one("Transpose", [ctx], perm=[0, 2, 1, 3]),
                            g.const(g.name("shape"), np.array([0, 0, c.num_heads * c.head_dim], dtype=np.int64))])
    return g.matmul(ctx, w[k + "o_proj.weight"], f"layers.{layer}.cross_o_proj")


EMBEDDING_CHOICES = ("int4", "int8", "fp32")
WEIGHT_CHOICES = ("int4", "int4-asym", "int4-hqq", "int4-q41", "int8-block", "int8", "int8-channel", "fp32")
Q41_BLOCK = 32  # GGUF Q4_1: w = d*q + m per block of 32 inputs, q in 0..15


def quantize_weights(src: str | Path, dst: str | Path, weights: str = "int8-block", head: str = "int8",
                     block_size: int = 128, accuracy_level: int = 4, embedding: str = "int4") -> dict[str, Any]:
    """Quantise the fused graph `src` into `dst`; the matching head stays fp32.

    `weights` "int4" / "int8-block": layer MatMuls to 4- or 8-bit `MatMulNBits` (symmetric
    blocks of `block_size`; `accuracy_level` 4 runs them on int8 activations quantised per
    block; "int4-asym": 4-bit with a zero point per block; "int4-hqq": 4-bit with zero points
    fitted by HQQ, half-quadratic optimisation of the rounding error, needs torch; "int4-q41": the
    exact 4-bit copy of weights that are GGUF Q4_1 de-quantised, as SmolLM2's layers are,
    `q41_exact_matmuls`, with the trained cross-attention in 8-bit blocks), the output projection to `head` (int4 or int8 `MatMulNBits`), the embedding table
    to int4 `GatherBlockQuantized` (`embedding` "int8": int8 rows with a scale per row, gathered
    then scaled; "fp32": left as it is). "int8"
    ("int8-channel": a scale per output channel): `quantize_dynamic` of the layers, the
    embedding and (with `head` "int8") the output projection. Returns the record of what was done (for `decoder.json`)."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    if weights not in WEIGHT_CHOICES or head not in WEIGHT_CHOICES:
        raise ValueError(f"weights and head must be one of {WEIGHT_CHOICES}")
    if head == "int4-q41":
        raise ValueError("int4-q41 is for the layers' weights (the head is the embedding table)")
    if embedding not in EMBEDDING_CHOICES:
        raise ValueError(f"embedding must be one of {EMBEDDING_CHOICES}")
    model = onnx.load(str(src))
    names = {n.name for n in model.graph.node if n.op_type == "MatMul"}
    head_nodes = {"lm_head"} & names
    layer_nodes = {n for n in names if n.startswith("layers.") and n.endswith("_proj")}

    def run(model: onnx.ModelProto, bits: int, include: set[str], ops: tuple[str, ...],
            symmetric: bool = True, hqq: bool = False) -> onnx.ModelProto:
        if not include:
            return model
        # `nodes_to_include` adds to the op types rather than narrowing them: exclude the rest
        exclude = sorted(n.name for n in model.graph.node if n.op_type in ops and n.name not in include)
        algo = None
        if hqq:
            from onnxruntime.quantization.matmul_nbits_quantizer import HQQWeightOnlyQuantConfig

            algo = HQQWeightOnlyQuantConfig(block_size=block_size, bits=bits, op_types_to_quantize=ops)
        q = MatMulNBitsQuantizer(model, bits=bits, block_size=block_size, is_symmetric=symmetric,
                                 accuracy_level=accuracy_level, nodes_to_exclude=exclude,
                                 op_types_to_quantize=ops, algo_config=algo)
        root = logging.getLogger()
        level = root.level
        root.setLevel(max(level, logging.WARNING))  # the quantiser logs every node at INFO
        try:
            q.process()
        finally:
            root.setLevel(level)
        out = q.model.model
        for node in out.graph.node:  # HQQ leaves it unset: int8 activations per block, as the others
            if node.op_type == "MatMulNBits" and not any(a.name == "accuracy_level" for a in node.attribute):
                node.attribute.append(helper.make_attribute("accuracy_level", accuracy_level))
        return out

    if weights in ("int8", "int8-channel"):
        return _quantize_dynamic(model, dst, layer_nodes | (head_nodes if head.startswith("int8") else set()), head,
                                 per_channel=weights == "int8-channel", embedding=embedding != "fp32")
    if embedding == "int4":
        model = run(model, 4, {"embed_tokens"}, ("Gather",))
    elif embedding == "int8":
        _int8_embedding(model)
    if weights == "int4-q41":  # the frozen decoder's own weights; the trained cross-attention: 8-bit blocks
        own = {n for n in layer_nodes if ".cross_" not in n}
        q41_exact_matmuls(model, own, accuracy_level)
        model = run(model, 8, layer_nodes - own, ("MatMul",))
    elif weights != "fp32":
        model = run(model, 4 if weights.startswith("int4") else 8, layer_nodes, ("MatMul",),
                    symmetric=weights in ("int4", "int8-block"), hqq=weights == "int4-hqq")
    if head != "fp32":
        model = run(model, 4 if head == "int4" else 8, head_nodes, ("MatMul",))
    onnx.save_model(model, str(dst))
    method = {"int4-asym": "RTN, zero points", "int4-hqq": "HQQ, zero points",
              "int4-q41": "exact Q4_1: 4-bit blocks of 32 + block offsets"}.get(weights, "RTN, symmetric")
    return {"method": f"onnxruntime MatMulNBits ({method})", "weights": weights, "head": head,
            "embedding": embedding, "block_size": Q41_BLOCK if weights == "int4-q41" else block_size,
            "accuracy_level": accuracy_level}


def q41_blocks(weight: np.ndarray, rtol: float = 1e-5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q uint8 [N, K/32, 32], d float32 [N, K/32], m float32 [N, K/32]) with `weight` [K, N] =
    d*q + m in each block of 32 along K, q in 0..15: the grid GGUF's Q4_1 puts every block on
    (its blocks span q = 0..15, so m is the block's minimum and d its range / 15). Raises
    ValueError when a block is off such a grid by more than `rtol` of its largest magnitude."""
    k, n = weight.shape
    if k % Q41_BLOCK:
        raise ValueError(f"input size {k} is not a multiple of {Q41_BLOCK}")
    v = weight.T.reshape(n, k // Q41_BLOCK, Q41_BLOCK).astype(np.float64)
    lo, hi = v.min(-1), v.max(-1)
    d = (hi - lo) / 15
    q = np.rint((v - lo[..., None]) / np.where(d > 0, d, 1)[..., None])
    err = np.abs(lo[..., None] + d[..., None] * q - v).max(-1)
    off = err > rtol * np.maximum(np.abs(v).max(-1), 1e-30)
    if off.any():
        raise ValueError(f"{int(off.sum())} of {off.size} blocks of 32 are not on a 4-bit grid "
                         "(int4-q41 is for weights de-quantised from GGUF Q4_1)")
    return q.astype(np.uint8), d.astype(np.float32), lo.astype(np.float32)


def q41_exact_matmuls(model: onnx.ModelProto, names: set[str], accuracy_level: int = 4) -> None:
    """Replace (in place) each MatMul of `names`, whose weight is on a Q4_1 grid (`q41_blocks`),
    by its exact 4-bit form: `MatMulNBits(x, q, d)` computes x @ d*(q - 8) (no zero point: 8),
    and `blocksum(x) @ (m + 8d)` adds the rest, since d*q + m = d*(q - 8) + (m + 8d)."""
    inits = {t.name: t for t in model.graph.initializer}
    kept: list[onnx.NodeProto] = []
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.name not in names:
            kept.append(node)
            continue
        tensor = inits.pop(node.input[1])
        weight = numpy_helper.to_array(tensor)
        k, n = weight.shape
        q, d, m = q41_blocks(weight)
        model.graph.initializer.remove(tensor)
        base, x = node.name, node.input[0]
        model.graph.initializer.extend([
            numpy_helper.from_array((q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8), f"{base}.q4"),
            numpy_helper.from_array(d.reshape(-1), f"{base}.scales"),
            numpy_helper.from_array(np.ascontiguousarray((m + 8 * d).T), f"{base}.offsets"),
            numpy_helper.from_array(np.array([0, 0, k // Q41_BLOCK, Q41_BLOCK], dtype=np.int64), f"{base}.blocks"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), f"{base}.last")])
        kept += [
            helper.make_node("MatMulNBits", [x, f"{base}.q4", f"{base}.scales"], [f"{base}/nbits"], name=base,
                             domain=MS, K=k, N=n, bits=4, block_size=Q41_BLOCK, accuracy_level=accuracy_level),
            helper.make_node("Reshape", [x, f"{base}.blocks"], [f"{base}/xb"], name=f"{base}/reshape"),
            helper.make_node("ReduceSum", [f"{base}/xb", f"{base}.last"], [f"{base}/xsum"], name=f"{base}/blocksum",
                             keepdims=0),
            helper.make_node("MatMul", [f"{base}/xsum", f"{base}.offsets"], [f"{base}/offset"], name=f"{base}/offset"),
            helper.make_node("Add", [f"{base}/nbits", f"{base}/offset"], list(node.output), name=f"{base}/add")]
    del model.graph.node[:]
    model.graph.node.extend(kept)


def _int8_embedding(model: onnx.ModelProto) -> None:
    """Replace the `embed_tokens` Gather (in place) by a gather of int8 rows times a gathered
    per-row scale (symmetric: scale = max |row| / 127)."""
    graph = model.graph
    node = next(n for n in graph.node if n.name == "embed_tokens")
    init = next(i for i in graph.initializer if i.name == node.input[0])
    table = numpy_helper.to_array(init).astype(np.float32)
    scale = np.maximum(np.abs(table).max(axis=1, keepdims=True), 1e-12) / 127.0
    q = np.clip(np.rint(table / scale), -127, 127).astype(np.int8)
    graph.initializer.remove(init)
    graph.initializer.extend([numpy_helper.from_array(q, init.name + "_int8"),
                              numpy_helper.from_array(scale.astype(np.float32), init.name + "_scale")])
    ids, out = node.input[1], node.output[0]
    rows = helper.make_node("Gather", [init.name + "_int8", ids], [out + "/int8"], name="embed_tokens_int8", axis=0)
    cast = helper.make_node("Cast", [out + "/int8"], [out + "/float"], name="embed_tokens_cast", to=TensorProto.FLOAT)
    scales = helper.make_node("Gather", [init.name + "_scale", ids], [out + "/scale"], name="embed_tokens_scale", axis=0)
    mul = helper.make_node("Mul", [out + "/float", out + "/scale"], [out], name="embed_tokens")
    at = list(graph.node).index(node)
    graph.node.remove(node)
    for k, new in enumerate((rows, cast, scales, mul)):
        graph.node.insert(at + k, new)


def _quantize_dynamic(model: onnx.ModelProto, dst: str | Path, nodes: set[str], head: str,
                      per_channel: bool, embedding: bool = True) -> dict[str, Any]:
    """int8 weights (one scale per tensor, or per output channel) with activations quantised
    per call (`quantize_dynamic`): ONNX Runtime's integer GEMM, which prefills ~10x faster on 2
    cores than `MatMulNBits` does today."""
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # it warns on the root logger about pre-processing
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "fp32.onnx"
            onnx.save_model(model, str(src))
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                             nodes_to_quantize=sorted(nodes | ({"embed_tokens"} if embedding else set())),
                             op_types_to_quantize=["MatMul", "Gather"],
                             extra_options={"DefaultTensorType": TensorProto.FLOAT})
    finally:
        root.setLevel(level)
    return {"method": "onnxruntime.quantize_dynamic", "weights": "int8", "per_channel": per_channel,
            "head": head, "embedding": "int8" if embedding else "fp32"}


KV_CACHE_CHOICES = ("float16", "float32")


def save_with_external_weights(model: onnx.ModelProto, path: str | Path) -> Path:
    """Write `model` to `path` with its weights in `<path>.data` beside it. ONNX Runtime maps
    that file instead of copying the weights out of the parsed model, so once it has prepacked
    them the session holds ~70 MB less (`bench/ort_session_options.py --weights-file`: the
    decoder session alone adds 169 MB instead of 239)."""
    path = Path(path)
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + ".data", size_threshold=1024)
    return path


def half_kv_cache(model: onnx.ModelProto) -> int:
    """Make the self-attention cache of a fused decoder graph float16, in place: each
    `GroupQueryAttention` reads its packed QKV cast to float16 (rotary caches float16 too),
    `past_key_values.*` in and `present.*` out become float16, and the attention output is cast
    back to float32 before `o_proj`. Everything else stays float32. Returns the number of
    attention nodes changed.

    The cache is what a decode step reads most after the weights: 46 KB a position in float32,
    all of it every step, and the prompt cache holds it per document. Float16 halves both, as
    llama.cpp's default cache does."""
    graph = model.graph
    gqa = [n for n in graph.node if n.op_type == "GroupQueryAttention"]
    if not gqa:
        raise ValueError("no GroupQueryAttention node: only the fused decoder graph has a cache to halve")
    rotary = {n.input[i] for n in gqa for i in (7, 8) if len(n.input) > i and n.input[i]}
    for init in graph.initializer:
        if init.name in rotary and init.data_type == TensorProto.FLOAT:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name)
            init.CopyFrom(half)
    for node in gqa:
        at = list(graph.node).index(node)
        src, out = node.input[0], node.output[0]
        cast_in = helper.make_node("Cast", [src], [f"{node.name}/qkv_fp16"], name=f"{node.name}/cast_in",
                                   to=TensorProto.FLOAT16)
        node.input[0] = cast_in.output[0]
        node.output[0] = f"{out}/fp16"
        cast_out = helper.make_node("Cast", [node.output[0]], [out], name=f"{node.name}/cast_out",
                                    to=TensorProto.FLOAT)
        graph.node.insert(at, cast_in)
        graph.node.insert(at + 2, cast_out)
    for value in list(graph.input) + list(graph.output):
        if value.name.startswith(("past_key_values.", "present.")):
            value.type.tensor_type.elem_type = TensorProto.FLOAT16
    return len(gqa)
