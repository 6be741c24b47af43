"""The two ONNX graphs of a smol bundle and their feeds (numpy only).

`SmolGraphs.encode` runs the encoder graph (states, embedding, cross-attention keys/values);
`SmolGraphs.step` runs the decoder graph on new tokens with the self-attention cache `past`
(a list of (key, value) per layer, `[b, kv_heads, p, head_dim]`) and returns the last
position's logits and the grown cache. `SmolGraphs.advance` does the same for one sequence whose
cache is a `KVBuffer`: the fused graph writes the new keys/values into it in place (its
`present` outputs bound to the `past` inputs' memory), so a decode step copies no cache. Without encoder input the cross inputs are one zero
position with a zero mask: the decoder-only mode, where the cross-attention adds nothing.
"""
from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from model.formats import pad_batch
from model.runtime.kv_buffer import KVBuffer

KV = tuple[np.ndarray, np.ndarray]


class SmolGraphs:
    """Encoder and (optional) decoder sessions of a smol bundle."""

    def __init__(self, encoder: Any, decoder: Any | None, config: Any) -> None:
        self.encoder = encoder
        self.decoder = decoder
        self.config = config
        self.enc_out = [o.name for o in encoder.get_outputs()]
        self._scratch = threading.local()  # per thread: the logits rows `advance` has written into
        self.cross_names = [f"cross.{i}.{kv}" for i in config.cross_layers for kv in ("key", "value")]
        if decoder is not None:
            self.dec_out = [o.name for o in decoder.get_outputs()]
            self.present = [self.dec_out.index(f"present.{i}.{kv}")
                            for i in range(config.num_layers) for kv in ("key", "value")]
            # the fused graph gives the logits of the last n positions (drafted decoding)
            self.has_rows = "logits_rows" in {i.name for i in decoder.get_inputs()} and "row_logits" in self.dec_out
            # its GroupQueryAttention appends to a shared past/present buffer in place
            self.shares_buffer = self.has_rows
        # the self-attention cache's element type (float32 unless built with a float16 cache)
        self.kv_dtype = np.dtype(np.float32)
        if decoder is not None:
            past = {i.name: i.type for i in decoder.get_inputs()}.get("past_key_values.0.key")
            if past == "tensor(float16)":
                self.kv_dtype = np.dtype(np.float16)

    # ---- encoder ----------------------------------------------------------------------------
    def encode(self, rows: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(outputs by name, attention mask) of a batch of encoder id rows (right-padded)."""
        ids, mask = pad_batch(rows, pad_id)
        feeds = {"input_ids": np.asarray(ids, dtype=np.int64), "attention_mask": np.asarray(mask, dtype=np.int64)}
        return dict(zip(self.enc_out, self.encoder.run(None, feeds))), feeds["attention_mask"]

    def cross_inputs(self, rows: Sequence[Sequence[int]] | None, pad_id: int = 0) -> tuple[list[KV], np.ndarray]:
        """Cross keys/values and encoder mask for `rows` (None: the decoder-only mode)."""
        c = self.config
        if rows is None:
            zero = np.zeros((1, c.num_heads, 1, c.head_dim), dtype=np.float32)
            return [(zero, zero) for _ in c.cross_layers], np.zeros((1, 1), dtype=np.int64)
        outs, mask = self.encode(rows, pad_id)
        return self.cross_from(outs), mask

    def cross_from(self, outs: dict[str, np.ndarray]) -> list[KV]:
        return [(outs[f"cross.{i}.key"], outs[f"cross.{i}.value"]) for i in self.config.cross_layers]

    # ---- decoder ----------------------------------------------------------------------------
    def empty_past(self, batch: int) -> list[KV]:
        c = self.config
        z = np.zeros((batch, c.num_kv_heads, 0, c.head_dim), dtype=self.kv_dtype)
        return [(z, z) for _ in range(c.num_layers)]

    def new_buffer(self, capacity: int = 0) -> KVBuffer:
        c = self.config
        return KVBuffer(c.num_layers, c.num_kv_heads, c.head_dim, capacity, self.kv_dtype)

    def advance(self, ids: Sequence[int], buf: KVBuffer, cross: list[KV], enc_mask: np.ndarray,
                rows: int = 1) -> np.ndarray:
        """Feed `ids` (one sequence) after the `buf.length` cached positions; `buf` grows by
        `len(ids)`. Returns the logits of the last `rows` positions, `[rows, V]`."""
        if self.decoder is None:
            raise ValueError("this bundle's decoder graph is not built")
        t, n = len(ids), buf.length
        if t == 0:
            raise ValueError("advance needs at least one new token")
        if not self.shares_buffer:
            out = self.run([list(ids)], buf.views(), cross, enc_mask, rows=rows)
            buf.write(out["past"], n)
            return out["row_logits"][0] if rows != 1 else out["logits"]
        buf.reserve(n + t)
        binding = buf.binding(self.decoder)  # the cache is bound once per allocation
        binding.bind_cpu_input("input_ids", np.asarray([ids], dtype=np.int64))
        binding.bind_cpu_input("attention_mask", np.ones((1, n + t), dtype=np.int64))
        binding.bind_cpu_input("encoder_attention_mask", np.ascontiguousarray(enc_mask, dtype=np.int64))
        binding.bind_cpu_input("logits_rows", np.array([max(1, min(rows, t))], dtype=np.int64))
        for (k, v), i in zip(cross, self.config.cross_layers):
            binding.bind_cpu_input(f"cross.{i}.key", np.ascontiguousarray(k, dtype=np.float32))
            binding.bind_cpu_input(f"cross.{i}.value", np.ascontiguousarray(v, dtype=np.float32))
        r = max(1, min(rows, t))
        out = self._logits_rows(r)
        binding.bind_ortvalue_output("row_logits", _ortvalue(out))
        self.decoder.run_with_iobinding(binding)
        buf.length = n + t
        # written in place (no wrapping of every bound output to find this one); copied, as the
        # scratch rows are the next call's output
        return out[0].copy()

    def _logits_rows(self, rows: int) -> np.ndarray:
        """This thread's `[1, rows, V]` float32 output array (a prefix of one grown as needed)."""
        vocab = self.config.vocab_size
        scratch = getattr(self._scratch, "rows", None)
        if scratch is None or scratch.shape[1] < rows:
            scratch = self._scratch.rows = np.empty((1, max(rows, 8), vocab), dtype=np.float32)
        return scratch[:, :rows]

    def run(self, ids: Sequence[Sequence[int]] | np.ndarray, past: list[KV], cross: list[KV],
            enc_mask: np.ndarray, attention_mask: np.ndarray | None = None, rows: int = 1) -> dict[str, Any]:
        """One decoder call: every output by name, plus `past` (the grown cache). `rows`: how
        many last positions get logits in `row_logits` (graphs with `has_rows`)."""
        if self.decoder is None:
            raise ValueError("this bundle's decoder graph is not built")
        ids = np.asarray(ids, dtype=np.int64)
        b, t = ids.shape
        p = past[0][0].shape[2]
        if attention_mask is None:
            attention_mask = np.ones((b, p + t), dtype=np.int64)
        feeds: dict[str, np.ndarray] = {"input_ids": ids, "attention_mask": attention_mask,
                                        "encoder_attention_mask": enc_mask}
        for i, (k, v) in enumerate(past):
            feeds[f"past_key_values.{i}.key"] = k
            feeds[f"past_key_values.{i}.value"] = v
        for (k, v), i in zip(cross, self.config.cross_layers):
            feeds[f"cross.{i}.key"] = k
            feeds[f"cross.{i}.value"] = v
        if self.has_rows:
            feeds["logits_rows"] = np.array([max(1, min(rows, t))], dtype=np.int64)
        elif rows != 1:
            raise ValueError("this decoder graph gives the last position's logits only")
        outs = self.decoder.run(None, feeds)
        named = dict(zip(self.dec_out, outs))
        named["past"] = [(outs[self.present[2 * i]], outs[self.present[2 * i + 1]])
                         for i in range(self.config.num_layers)]
        return named

    def step(self, ids: Sequence[Sequence[int]] | np.ndarray, past: list[KV], cross: list[KV],
             enc_mask: np.ndarray) -> tuple[np.ndarray, list[KV]]:
        """Last-position logits [b, V] and the grown cache."""
        out = self.run(ids, past, cross, enc_mask)
        return out["logits"], out["past"]


def _ortvalue(array: np.ndarray) -> Any:
    import onnxruntime as ort

    return ort.OrtValue.ortvalue_from_numpy(array)
