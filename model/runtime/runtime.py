"""`Runtime`: load a checked bundle and run embedding, generation and matching (torch-free).

Only onnxruntime, tokenizers and numpy are used. Prompts come from `model.formats`; decoding
lives in `model.runtime.decoding`. Every public method is safe to call from a worker thread
(ONNX Runtime sessions are thread-safe and the runtime keeps no per-call state on `self`).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import onnxruntime as ort

from model import formats
from model.config import ModelConfig
from model.runtime.api import BundleError, Generation, GenerationConfig, StopReason
from model.runtime.bundle import MANIFEST_FILE, check_file, load_manifest, pick_precision
from model.runtime.packed import default_bundle_dir  # noqa: F401  (re-exported)
from model.runtime.decoding import DecoderGraphs, StopRules, apply_text_rules, beam_search, greedy
from model.tokenizer import CodeTokenizer, TokenizerError

log = logging.getLogger(__name__)

Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "int8", "fp32"]
CompletionMode = Literal["auto", "fim", "causal"]
# Inputs are cut to this many characters per token of budget before tokenizing (a BPE token
# rarely covers more), so a huge file costs no more than a long one.
CHARS_PER_TOKEN = 16


# Inputs and outputs the runtime feeds / reads, per graph role.
REQUIRED_IO: dict[str, tuple[set[str], set[str]]] = {
    "encoder": ({"input_ids", "attention_mask"}, {"last_hidden_state"}),
    "decoder": ({"input_ids", "encoder_hidden_states", "encoder_attention_mask"},
                {"logits", "present.0.decoder.key", "present.0.encoder.key"}),
    "decoder_with_past": ({"input_ids", "encoder_attention_mask", "past_key_values.0.decoder.key",
                           "past_key_values.0.encoder.key"}, {"logits", "present.0.decoder.key"}),
    "matching": ({"decoder_input_ids", "decoder_attention_mask", "encoder_hidden_states",
                  "encoder_attention_mask"}, {"itm_logits"}),
}


def _providers(device: str) -> list[str]:
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ValueError("device='cuda' but onnxruntime has no CUDAExecutionProvider "
                             "(install the 'gpu' extra: onnxruntime-gpu)")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device != "auto":
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def session_options(threads: int | None, spin: bool) -> ort.SessionOptions:
    """One model thread's ORT options: all graph optimisations, `threads` intra-op threads
    (None: ORT's default) and, unless `spin`, workers that spin only inside a run.

    Within a run the intra-op workers busy-wait between operators (`allow_spinning`): a decoder
    step is ~250 small parallel sections, and waking a sleeping worker for each one cost ~20%
    of the step (`bench/ort_session_options.py`). At the end of each run they stop spinning
    (`session.force_spinning_stop`), so an idle pool never takes a core from another session,
    the editor or a build. `spin=True` is ONNX Runtime's default, idle workers spinning on after
    a run: with two sessions taking turns, each pool's spinning slows the other 2x."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = int(threads)
    options.log_severity_level = 3
    # no memory arena: it keeps the largest activations any call needed (a prefill's attention
    # scores, a batch of embeddings) resident for the process's life, 47 MB after three smol
    # completions and an embedding batch; freed buffers go back to the allocator
    # (`bench/ort_session_options.py`, no slower)
    options.enable_cpu_mem_arena = False
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    if not spin:
        options.add_session_config_entry("session.force_spinning_stop", "1")
    return options


def open_session(path: Path, what: str, options: ort.SessionOptions,
                 providers: list[str]) -> ort.InferenceSession:
    """An ORT session for the graph at `path`; a failure is a `BundleError` naming the file."""
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"{path}: cannot load {what} graph ({first[:200]})") from exc


def _session(path: Path, record: dict[str, Any], what: str, options: ort.SessionOptions,
             providers: list[str]) -> ort.InferenceSession:
    """Open one graph; ORT failures and I/O mismatches become a `BundleError` naming the file."""
    sess = open_session(path, what, options, providers)
    need_in, need_out = REQUIRED_IO[what]
    have_in, have_out = {i.name for i in sess.get_inputs()}, {o.name for o in sess.get_outputs()}
    missing = sorted((need_in - have_in) | (need_out - have_out))
    if missing:
        raise BundleError(f"{path}: not usable as the {what} graph (lacks {', '.join(missing)})")
    for key, actual in (("inputs", sess.get_inputs()), ("outputs", sess.get_outputs())):
        expected = [io["name"] for io in record.get(key, [])] if isinstance(record.get(key), list) else None
        names = [io.name for io in actual]
        if expected is not None and sorted(expected) != sorted(names):
            raise BundleError(f"{path}: {what} graph {key} {names} do not match {MANIFEST_FILE} {expected}")
    return sess


class Runtime:
    """A loaded bundle: tokenizer, config and ONNX sessions. Build it with `Runtime.load`."""

    def __init__(self, bundle_dir: Path, manifest: dict[str, Any], config: ModelConfig,
                 tokenizer: CodeTokenizer, sessions: dict[str, ort.InferenceSession],
                 precision: str, providers: list[str]) -> None:
        self.bundle_dir = bundle_dir
        self.manifest = manifest
        self.config = config
        self.tokenizer = tokenizer
        self.precision = precision
        self.providers = providers
        self._encoder = sessions["encoder"]
        self._matching = sessions.get("matching")
        self._graphs = (DecoderGraphs(sessions["decoder"], sessions["decoder_with_past"])
                        if "decoder" in sessions else None)
        enc_outputs = {o.name for o in self._encoder.get_outputs()}
        self.has_embedding = "embedding" in enc_outputs
        self.has_matching = self._matching is not None
        self.has_decoder = self._graphs is not None
        vocab = tokenizer.vocab_size
        pieces = tokenizer.backend.decode_batch([[i] for i in range(vocab)], skip_special_tokens=True)
        self._newline_mask = np.array(["\n" in p for p in pieces] + [False] * (config.vocab_size - vocab))
        # Never generate padding or ids the tokenizer cannot decode (rows past its vocabulary).
        self._banned = np.asarray([tokenizer.pad_id] + list(range(vocab, config.vocab_size)), dtype=np.int64)
        self._fim_end = frozenset([tokenizer.eos_id, *tokenizer.sentinel_ids])
        self._eos_end = frozenset([tokenizer.eos_id])

    # ---- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, bundle_dir: str | Path, threads: int | None = None, device: Device = "auto",
             precision: Precision = "auto", verify: bool = True, spin: bool = False) -> "Runtime":
        """Load and check a bundle; raises `BundleError` naming the faulty file.

        `threads` sets ONNX Runtime's intra-op threads (None: its default); `device="auto"`
        uses CUDA when onnxruntime-gpu is installed; `precision="auto"` prefers int8 on CPU.
        `verify=False` skips the sha256 checks (sizes are always checked). Intra-op threads
        busy-wait only inside a run (see `session_options`); `spin=True` lets idle ones spin on
        after it (ONNX Runtime's default), which on a small shared machine (2 cores, an editor,
        a build, two sessions taking turns) slows every call several times over.
        """
        t0 = time.perf_counter()
        bundle_dir = Path(bundle_dir)
        from model.runtime.smol_runtime import SmolRuntime, manifest_kind

        if manifest_kind(bundle_dir) == "smol":  # the shallow-encoder / frozen-decoder kind
            return SmolRuntime.load(bundle_dir, threads, device, precision, verify, spin)  # type: ignore[return-value]
        manifest, config = load_manifest(bundle_dir)
        providers = _providers(device)
        if precision == "auto" and providers[0] == "CUDAExecutionProvider" and _has_precision(manifest, "fp32"):
            precision = "fp32"  # dynamic int8 kernels are CPU-only
        chosen = pick_precision(manifest, precision, bundle_dir)
        tokenizer = _load_tokenizer(bundle_dir, manifest, config, verify)
        options = session_options(threads, spin)
        sessions: dict[str, ort.InferenceSession] = {}
        for name, entry in manifest["graphs"].items():
            record = entry[chosen]
            path = check_file(bundle_dir, record, f"{name} graph ({chosen})", verify_hash=verify)
            sessions[name] = _session(path, record, name, options, providers)
        _check_vocab(sessions, config, bundle_dir)
        rt = cls(bundle_dir, manifest, config, tokenizer, sessions, chosen, providers)
        log.info("loaded bundle %s (%s, %s, %s) in %.0f ms", bundle_dir, config.name, chosen,
                 providers[0], (time.perf_counter() - t0) * 1000)
        return rt

    # ---- encoder ----------------------------------------------------------------------------
    def _encode(self, ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        padded, mask = formats.pad_batch(ids, self.tokenizer.pad_id)
        input_ids = np.asarray(padded, dtype=np.int64)
        attn = np.asarray(mask, dtype=np.int64)
        names = [o.name for o in self._encoder.get_outputs()]
        outs = dict(zip(names, self._encoder.run(None, {"input_ids": input_ids, "attention_mask": attn})))
        return outs["last_hidden_state"], attn, outs

    def embed(self, texts: Sequence[str], batch_size: int = 16, max_length: int = 256) -> np.ndarray:
        """Unit-norm embeddings [n, embed_dim] (float32) of `texts`, in order."""
        if not self.has_embedding:
            raise ValueError(f"model {self.config.name!r} in {self.bundle_dir} has no embedding head")
        dim = self.config.embed_dim
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        ids = embedding_ids(self.tokenizer, texts, max_length)
        out = np.zeros((len(ids), dim), dtype=np.float32)
        for chunk in length_buckets([len(x) for x in ids], max(1, batch_size)):
            _, _, outs = self._encode([ids[i] for i in chunk])
            out[chunk] = outs["embedding"]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    # ---- generation -------------------------------------------------------------------------
    def generate(self, example: formats.Example, config: GenerationConfig | None = None,
                 end_ids: frozenset[int] | None = None, end_reason: StopReason = "eos") -> Generation:
        """Decode the target of `example` (encoder ids + forced decoder prefix) with the KV cache."""
        if self._graphs is None:
            raise ValueError(f"model {self.config.name!r} in {self.bundle_dir} has no decoder")
        config = config or GenerationConfig()
        t0 = time.perf_counter()
        hidden, mask, _ = self._encode([example.encoder_ids])
        start = [self.config.decoder_start_token_id] + list(example.decoder_prefix)
        rules = StopRules(config, self._eos_end if end_ids is None else end_ids, end_reason, self._newline_mask,
                          self.tokenizer.decode, self._banned)
        cut: str | None = None
        if config.num_beams <= 1:
            ids, reason, cut = greedy(self._graphs, hidden, mask, start, rules)
            text = cut if cut is not None else self.tokenizer.decode(ids)
        else:
            ids, reason = beam_search(self._graphs, hidden, mask, start, rules)
            text, text_reason = apply_text_rules(self.tokenizer.decode(ids), config)
            reason = text_reason or reason
        return Generation(text=text, token_ids=ids, stop_reason=reason,
                          latency_ms=(time.perf_counter() - t0) * 1000)

    def complete(self, prefix: str, suffix: str = "", config: GenerationConfig | None = None,
                 mode: CompletionMode = "auto", cache_key: str | None = None) -> Generation:
        """Code completion at the cursor: fill-in-the-middle when `suffix` has non-whitespace
        text (mode auto), otherwise decoder-only continuation of `prefix`. `cache_key` is
        accepted for the smol runtime's prompt reuse; the T5 graphs keep no prompt cache."""
        if mode not in ("auto", "fim", "causal"):
            raise ValueError(f"mode must be auto, fim or causal, not {mode!r}")
        config = config or GenerationConfig()
        tokens = config.max_source_length or self.config.max_source_length
        budget = CHARS_PER_TOKEN * tokens
        prefix, suffix = prefix[-budget:], suffix[:budget]  # bound tokenizer work on huge files
        if mode == "fim" or (mode == "auto" and suffix.strip()):
            ex = formats.fim_example(self.tokenizer, prefix, suffix, max_source_length=tokens)
            return self.generate(ex, config, end_ids=self._fim_end, end_reason="sentinel")
        if config.max_source_length:
            ex = formats.causal_prompt(self.tokenizer, prefix, max_prefix_length=config.max_source_length)
        else:
            ex = formats.causal_prompt(self.tokenizer, prefix)
        return self.generate(ex, config)

    def summarize(self, code: str, config: GenerationConfig | None = None) -> Generation:
        """Code -> natural-language summary (`[TDEC]` mode)."""
        code = code[:CHARS_PER_TOKEN * self.config.max_source_length]
        ex = formats.code_to_text_example(self.tokenizer, code, max_source_length=self.config.max_source_length)
        return self.generate(ex, config)

    def text_to_code(self, text: str, config: GenerationConfig | None = None) -> Generation:
        """Natural language -> code (`[CDEC]` mode)."""
        text = text[:CHARS_PER_TOKEN * self.config.max_source_length]
        ex = formats.text_to_code_example(self.tokenizer, text, max_source_length=self.config.max_source_length)
        return self.generate(ex, config)

    # ---- matching ---------------------------------------------------------------------------
    def match_scores(self, text: str, codes: Sequence[str], batch_size: int = 16,
                     max_code_length: int = 256) -> np.ndarray:
        """P(match) of `text` with each of `codes` (softmax of the matching head, column 1).

        The text is encoded once; the codes (at most `max_code_length` tokens each, the cost is
        linear in it) run through the matching graph in length-sorted batches of `batch_size`."""
        if self._matching is None:
            raise ValueError(f"model {self.config.name!r} in {self.bundle_dir} has no matching head")
        if not codes:
            return np.zeros((0,), dtype=np.float32)
        pairs = matching_pairs(self.tokenizer, text, codes, max_code_length)
        hidden, mask, _ = self._encode([pairs[0][0]])
        scores = np.zeros(len(codes), dtype=np.float32)
        order = sorted(range(len(codes)), key=lambda i: len(pairs[i][1]))
        for start in range(0, len(order), max(1, batch_size)):
            chunk = order[start:start + max(1, batch_size)]
            ids, dmask = formats.pad_batch([pairs[i][1] for i in chunk], self.tokenizer.pad_id)  # right padding: causal, safe
            n = len(chunk)
            logits = self._matching.run(None, {
                "decoder_input_ids": np.asarray(ids, dtype=np.int64),
                "decoder_attention_mask": np.asarray(dmask, dtype=np.int64),
                "encoder_hidden_states": np.repeat(hidden, n, axis=0),
                "encoder_attention_mask": np.repeat(mask, n, axis=0)})[0].astype(np.float64)
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            scores[chunk] = (e[:, 1] / e.sum(axis=1)).astype(np.float32)
        return scores


def embedding_ids(tokenizer: Any, texts: Sequence[str], max_length: int = 256) -> list[list[int]]:
    """Encoder ids of each text for an embedding (character-capped before tokenizing)."""
    return [formats.embedding_input(tokenizer, t[:CHARS_PER_TOKEN * max_length], max_length) for t in texts]


def matching_pairs(tokenizer: Any, text: str, codes: Sequence[str],
                   max_code_length: int = 256) -> list[tuple[list[int], list[int]]]:
    """(text encoder ids, code decoder ids) of `text` with each code, for the matching head."""
    text = text[:CHARS_PER_TOKEN * 128]
    return [formats.matching_inputs(tokenizer, text, c[:CHARS_PER_TOKEN * max_code_length],
                                    max_code_length=max_code_length) for c in codes]


def length_buckets(lengths: Sequence[int], batch_size: int, slack: float = 1.25) -> list[list[int]]:
    """Indices grouped into batches of similar length (at most `batch_size`; the longest item of a
    batch is at most `slack` times its shortest), so little compute is spent on padding."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < batch_size and lengths[i] <= slack * lengths[batches[-1][0]] + 4:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _has_precision(manifest: dict[str, Any], precision: str) -> bool:
    return all(isinstance(g, dict) and precision in g for g in manifest["graphs"].values())


def _load_tokenizer(bundle_dir: Path, manifest: dict[str, Any], config: ModelConfig, verify: bool) -> CodeTokenizer:
    record = manifest["tokenizer"]
    path = check_file(bundle_dir, {"file": record.get("file")}, "tokenizer", verify_hash=False)
    try:
        tok = CodeTokenizer.from_file(path)
    except TokenizerError as exc:
        raise BundleError(f"{path}: {exc}") from exc
    expected = record.get("vocab_size")
    if tok.vocab_size > config.vocab_size or (expected is not None and tok.vocab_size != expected):
        raise BundleError(f"{path}: tokenizer has {tok.vocab_size} tokens but {MANIFEST_FILE} expects "
                          f"{expected if expected is not None else '<=' + str(config.vocab_size)} "
                          f"(model vocab_size {config.vocab_size}); wrong tokenizer for this model")
    check_file(bundle_dir, record, "tokenizer", verify_hash=verify)
    return tok


def _check_vocab(sessions: dict[str, ort.InferenceSession], config: ModelConfig, bundle_dir: Path) -> None:
    dec = sessions.get("decoder")
    if dec is None:
        return
    dim = dec.get_outputs()[0].shape[-1]
    if isinstance(dim, int) and dim != config.vocab_size:
        raise BundleError(f"{bundle_dir / MANIFEST_FILE}: config vocab_size {config.vocab_size} but the "
                          f"decoder graph has {dim} logits")
