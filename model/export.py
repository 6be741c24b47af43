"""Export a model directory to a runtime bundle, with a parity check against torch.

Steps (all in a temporary directory next to the destination, moved into place only when every
check passes): export the encoder / decoder / decoder-with-past / matching graphs with
optimum-onnx (`model.onnx_configs`), quantise the non-merged graphs to int8 with ONNX Runtime's
dynamic quantisation, copy `tokenizer.json`, measure parity (max |logit diff| torch vs ORT fp32
for every graph, and int8-vs-fp32 greedy agreement on a fixed prompt set), write
`manifest.json`, load the result with the runtime, then move it to `out_dir`.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import onnx
import torch

from model import formats
from model.modeling import CodeT5p, load_model_dir
from model.onnx_configs import DECODER, DECODER_WITH_PAST, DEFAULT_OPSET, ENCODER, MATCHING, models_and_configs
from model.runtime.bundle import (FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE, TOKENIZER_FILE, file_record)
from model.tokenizer import CodeTokenizer

log = logging.getLogger(__name__)

# Fixed prompts for parity and int8 agreement (code, and the natural-language side for matching).
PARITY_CODE: tuple[str, ...] = (
    "def add(a, b):\n    return a + b\n",
    "for i in range(10):\n    print(i)",
    "import os\n\ndef read(path):\n    with open(path) as f:\n        return f.read()",
    "class Stack:\n    def __init__(self):\n        self.items = []\n",
    "function greet(name) {\n  return 'hello ' + name;\n}",
    "x = [n * n for n in numbers if n % 2 == 0]",
    "if __name__ == '__main__':\n    main()",
    "def fib(n):\n    if n < 2:\n        return n\n",
)
PARITY_TEXT: tuple[str, ...] = ("add two numbers", "print numbers", "read a file", "a stack class")


class ExportError(RuntimeError):
    """Export failed (parity outside tolerance, destination exists, bad model directory...)."""


@dataclass(frozen=True)
class ExportOptions:
    """Knobs of `export_bundle`."""

    opset: int = DEFAULT_OPSET
    quantize: bool = True
    keep_fp32: bool = True
    max_logit_diff: float = 1e-3  # refuse fp32 graphs whose logits differ more from torch
    min_int8_agreement: float = 0.0  # refuse when int8 greedy token agreement is lower
    agreement_tokens: int = 16
    overwrite: bool = False


@contextmanager
def staged_dir(out: Path) -> Iterator[Path]:
    """A temporary directory beside `out` that replaces `out` only if the block succeeds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def export_bundle(model_dir: str | Path, out_dir: str | Path, options: ExportOptions | None = None) -> Path:
    """Export the model directory `model_dir` (see `model.modeling`) to the bundle `out_dir`."""
    model, tokenizer = load_model_dir(model_dir)
    source = {"model_dir": str(Path(model_dir).resolve())}
    cfg_path = Path(model_dir) / "config.json"
    extra = {k: v for k, v in json.loads(cfg_path.read_text()).items() if k != "model"}
    if extra:
        source["model_dir_info"] = extra
    return export_model(model, tokenizer, out_dir, options, source=source)


def export_model(model: CodeT5p, tokenizer: CodeTokenizer, out_dir: str | Path,
                 options: ExportOptions | None = None, source: dict[str, Any] | None = None) -> Path:
    """Export an in-memory model + tokenizer to the bundle `out_dir` (atomic, parity-checked)."""
    options = options or ExportOptions()
    out_dir = Path(out_dir)
    if out_dir.exists() and not options.overwrite:
        raise ExportError(f"{out_dir}: already exists (pass overwrite to replace it)")
    model = model.eval()
    with staged_dir(out_dir) as tmp:
        _build(model, tokenizer, tmp, options, source or {})
    log.info("bundle written to %s", out_dir)
    return out_dir


def _build(model: CodeT5p, tokenizer: CodeTokenizer, tmp: Path, options: ExportOptions,
           source: dict[str, Any]) -> None:
    from optimum.exporters.onnx.convert import export_models

    t0 = time.perf_counter()
    config = model.model_config
    graphs = models_and_configs(model)
    fp32 = {name: f"{name}.onnx" for name in graphs}
    with torch.no_grad(), warnings.catch_warnings():
        # tracing T5 emits TracerWarnings about shape-dependent branches that parity then checks
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*aten::index.*", category=UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # optimum uses the TorchScript exporter
        export_models(graphs, tmp, opset=options.opset, output_names=list(fp32.values()))
    model.encoder.config.use_cache = False  # optimum's config overrides leak into the shared stack config
    int8: dict[str, str] = {}
    if options.quantize:
        int8 = {name: quantize(tmp / f, tmp / f"{name}.int8.onnx") for name, f in fp32.items()}
    tokenizer.save(tmp)
    t_export = time.perf_counter() - t0

    parity = measure_fp32_parity(model, tokenizer, tmp, fp32)
    worst = max(parity["max_abs_diff"].values())
    parity["max_logit_diff"] = worst
    parity["tolerance"] = options.max_logit_diff
    if not np.isfinite(worst) or worst > options.max_logit_diff:
        raise ExportError(f"parity check failed: max |torch - ORT fp32| = {worst:.3g} > "
                          f"{options.max_logit_diff:g} ({parity['max_abs_diff']}); bundle not written")
    _write_manifest(tmp, config, tokenizer, fp32, int8, options, parity, source)
    if int8 and config.has_decoder:
        agreement = measure_int8_agreement(tmp, options.agreement_tokens)
        parity["int8_vs_fp32_greedy"] = agreement
        if agreement["token_agreement"] < options.min_int8_agreement:
            raise ExportError(f"int8 greedy agreement {agreement['token_agreement']:.3f} < "
                              f"{options.min_int8_agreement}; bundle not written")
    if int8 and config.has_embedding_head:
        parity["int8_vs_fp32_embedding_min_cosine"] = measure_int8_embedding_cosine(tmp)
    if int8 and not options.keep_fp32:
        for f in fp32.values():
            for name in external_files(tmp / f):
                (tmp / name).unlink()
            (tmp / f).unlink()
        fp32 = {}
    parity["export_seconds"] = round(t_export, 2)
    _write_manifest(tmp, config, tokenizer, fp32, int8, options, parity, source)
    from model.runtime import Runtime

    Runtime.load(tmp, threads=1)  # the bundle must load and verify with the runtime itself


def quantize(src: Path, dst: Path, per_channel: bool = False) -> str:
    """int8 dynamic quantisation (weights int8, activations quantised at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    big = bool(external_files(src)) or src.stat().st_size > 1_500_000_000
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))  # the quantiser logs every tensor at INFO on the root logger
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                         use_external_data_format=big)
    finally:
        root.setLevel(level)
    return dst.name


def external_files(path: Path) -> list[str]:
    """Names of the external-data files a graph refers to (graphs over 2 GB, e.g. codet5p-770m)."""
    graph = onnx.load(str(path), load_external_data=False).graph
    names: set[str] = set()
    for tensor in graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            names.update(e.value for e in tensor.external_data if e.key == "location")
    return sorted(names)


def _io(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    graph = onnx.load(str(path), load_external_data=False).graph

    def describe(values: Any) -> list[dict[str, Any]]:
        out = []
        for v in values:
            t = v.type.tensor_type
            shape = [d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim]
            out.append({"name": v.name, "type": onnx.TensorProto.DataType.Name(t.elem_type).lower(),
                        "shape": shape})
        return out

    inits = {i.name for i in graph.initializer}
    return describe([i for i in graph.input if i.name not in inits]), describe(graph.output)


def _graph_record(path: Path) -> dict[str, Any]:
    rec = file_record(path)
    rec["inputs"], rec["outputs"] = _io(path)
    data = external_files(path)
    if data:
        rec["data"] = [file_record(path.parent / name) for name in data]
    return rec


def _write_manifest(tmp: Path, config: Any, tokenizer: CodeTokenizer, fp32: dict[str, str],
                    int8: dict[str, str], options: ExportOptions, parity: dict[str, Any],
                    source: dict[str, Any]) -> None:
    import optimum
    import transformers

    graphs: dict[str, dict[str, Any]] = {}
    for name in (fp32 or int8):
        entry: dict[str, Any] = {}
        if name in fp32:
            entry["fp32"] = _graph_record(tmp / fp32[name])
        if name in int8:
            entry["int8"] = _graph_record(tmp / int8[name])
        graphs[name] = entry
    tok = file_record(tmp / TOKENIZER_FILE)
    tok["vocab_size"] = tokenizer.vocab_size
    tok["canonical_sha256"] = tokenizer.sha256()
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "tokenizer": tok,
        "graphs": graphs,
        "opset": options.opset,
        "quantization": ({"method": "onnxruntime.quantize_dynamic", "weight_type": "int8",
                          "per_channel": False, "graphs": sorted(int8)} if int8 else None),
        "parity": parity,
        "exporter": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "optimum": getattr(optimum, "__version__", "unknown"), "onnx": onnx.__version__},
        "source": source,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))


# ---- parity ---------------------------------------------------------------------------------
def _batch(ids: Sequence[Sequence[int]], pad: int) -> tuple[np.ndarray, np.ndarray]:
    padded, mask = formats.pad_batch(ids, pad)
    return np.asarray(padded, dtype=np.int64), np.asarray(mask, dtype=np.int64)


def measure_fp32_parity(model: CodeT5p, tokenizer: CodeTokenizer, bundle: Path,
                        files: dict[str, str]) -> dict[str, Any]:
    """Max |torch - ORT fp32| per graph output on the fixed prompts."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = {n: ort.InferenceSession(str(bundle / f), so, providers=["CPUExecutionProvider"])
            for n, f in files.items()}
    cfg = model.model_config
    diffs: dict[str, float] = {}
    enc_ids, enc_mask = _batch([formats.embedding_input(tokenizer, c, 64) for c in PARITY_CODE], tokenizer.pad_id)
    t_ids, t_mask = torch.from_numpy(enc_ids), torch.from_numpy(enc_mask)
    with torch.no_grad():
        hidden = model.encode(t_ids, t_mask)
        o = sess[ENCODER].run(None, {"input_ids": enc_ids, "attention_mask": enc_mask})
        valid = enc_mask.astype(bool)
        diffs["encoder.last_hidden_state"] = float(np.abs(o[0] - hidden.numpy())[valid].max())
        if cfg.has_embedding_head:
            diffs["encoder.embedding"] = float(np.abs(o[1] - model.embed_from_hidden(hidden).numpy()).max())
        if cfg.has_decoder:
            diffs.update(_decoder_parity(model, tokenizer, sess, enc_ids, enc_mask, hidden))
        if cfg.has_matching_head:
            pairs = [formats.matching_inputs(tokenizer, PARITY_TEXT[i % len(PARITY_TEXT)], c, 32, 64)
                     for i, c in enumerate(PARITY_CODE)]
            e_ids, e_mask = _batch([p[0] for p in pairs], tokenizer.pad_id)
            d_ids, d_mask = _batch([p[1] for p in pairs], tokenizer.pad_id)
            h = model.encode(torch.from_numpy(e_ids), torch.from_numpy(e_mask))
            ref = model.match_logits(h, torch.from_numpy(e_mask), torch.from_numpy(d_ids), torch.from_numpy(d_mask))
            got = sess[MATCHING].run(None, {"decoder_input_ids": d_ids, "decoder_attention_mask": d_mask,
                                            "encoder_hidden_states": h.numpy(), "encoder_attention_mask": e_mask})[0]
            diffs["matching.itm_logits"] = float(np.abs(got - ref.numpy()).max())
    return {"max_abs_diff": diffs, "prompts": len(PARITY_CODE)}


def _decoder_parity(model: CodeT5p, tokenizer: CodeTokenizer, sess: dict[str, Any], enc_ids: np.ndarray,
                    enc_mask: np.ndarray, hidden: torch.Tensor) -> dict[str, float]:
    """Decoder logits at every prefix length and one cached step, torch vs ORT (per prompt)."""
    start = model.model_config.decoder_start_token_id
    worst_full, worst_step = 0.0, 0.0
    for row, code in enumerate(PARITY_CODE):
        dec = [start] + tokenizer.encode(code)[:12]
        n = int(enc_mask[row].sum())
        e_ids, e_mask = enc_ids[row:row + 1, :n], enc_mask[row:row + 1, :n]
        h = hidden[row:row + 1, :n]
        ref = model(input_ids=torch.from_numpy(e_ids), attention_mask=torch.from_numpy(e_mask),
                    decoder_input_ids=torch.tensor([dec])).logits.numpy()
        feeds = {"input_ids": np.asarray([dec], dtype=np.int64), "encoder_hidden_states": h.numpy(),
                 "encoder_attention_mask": e_mask}
        for t in range(1, len(dec) + 1):  # the graph returns the last position's logits
            feeds["input_ids"] = np.asarray([dec[:t]], dtype=np.int64)
            got = sess[DECODER].run(None, feeds)[0]
            worst_full = max(worst_full, float(np.abs(got[:, -1] - ref[:, t - 1]).max()))
        # Cached path: prefix through `decoder`, last token through `decoder_with_past`.
        feeds["input_ids"] = np.asarray([dec[:-1]], dtype=np.int64)
        names = [o.name for o in sess[DECODER].get_outputs()]
        first = dict(zip(names, sess[DECODER].run(None, feeds)))
        step_feeds = {i.name: first[i.name.replace("past_key_values.", "present.")]
                      for i in sess[DECODER_WITH_PAST].get_inputs() if i.name.startswith("past_key_values.")}
        step_feeds["input_ids"] = np.asarray([dec[-1:]], dtype=np.int64)
        step_feeds["encoder_attention_mask"] = e_mask
        step = sess[DECODER_WITH_PAST].run(None, step_feeds)[0]
        worst_step = max(worst_step, float(np.abs(step[0, -1] - ref[0, -1]).max()))
    return {"decoder.logits": worst_full, "decoder_with_past.logits": worst_step}


def measure_int8_agreement(bundle: Path, max_new_tokens: int = 16) -> dict[str, Any]:
    """Greedy completions int8 vs fp32 on the fixed prompts: exact matches and token agreement."""
    from model.runtime import GenerationConfig, Runtime

    fp = Runtime.load(bundle, threads=1, precision="fp32", verify=False)
    q8 = Runtime.load(bundle, threads=1, precision="int8", verify=False)
    gen = GenerationConfig(max_new_tokens=max_new_tokens)
    exact, agree, total = 0, 0, 0
    for code in PARITY_CODE:
        cut = max(1, len(code) // 2)
        a = fp.complete(code[:cut], code[cut:], gen).token_ids
        b = q8.complete(code[:cut], code[cut:], gen).token_ids
        exact += a == b
        length = max(len(a), len(b), 1)
        same = 0
        for x, y in zip(a, b):
            if x != y:
                break
            same += 1
        agree += same if a != b else length
        total += length
    return {"prompts": len(PARITY_CODE), "max_new_tokens": max_new_tokens, "exact_match": exact / len(PARITY_CODE),
            "token_agreement": agree / total}


def measure_int8_embedding_cosine(bundle: Path) -> float:
    """Smallest cosine between the int8 and fp32 embeddings of the fixed prompts."""
    from model.runtime import Runtime

    texts = list(PARITY_CODE) + list(PARITY_TEXT)
    fp = Runtime.load(bundle, threads=1, precision="fp32", verify=False).embed(texts)
    q8 = Runtime.load(bundle, threads=1, precision="int8", verify=False).embed(texts)
    return float(np.min(np.sum(fp * q8, axis=1)))
