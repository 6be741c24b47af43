"""Torch modules of the smol kind: a BERT encoder, a LLaMA decoder with cross-attention, two heads.

The decoder is written out here (RMSNorm, rotary embeddings, grouped-query attention, SwiGLU)
rather than taken from `transformers.LlamaForCausalLM`, so that its KV cache is plain tensors
(`[batch, kv_heads, time, head_dim]` per layer) that export to ONNX as graph inputs/outputs and
can be truncated by the runtime; its state-dict keys are the LLaMA ones (`model.layers.N...`),
so SmolLM2's weights load unchanged, and a test checks its logits against transformers'.

Cross-attention (`CrossAttention`) sits after the self-attention of each layer in
`config.cross_layers`: pre-RMSNorm query from the decoder, keys/values projected from the
encoder states (encoder width -> decoder width), output projection initialised to zero, so a
fresh model decodes exactly like the original decoder. With no encoder input (the decoder-only
mode) the block adds exactly zero.

Shapes: b batch, t new decoder tokens, p past tokens, s encoder tokens, d decoder width,
h encoder width.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from model.smol.config import SmolConfig

Past = list[tuple[torch.Tensor, torch.Tensor]]
Cross = list[tuple[torch.Tensor, torch.Tensor]]


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(x.dtype)


def rotary(positions: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [t, head_dim] for integer positions [t] (LLaMA's half-split layout)."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim))
    freqs = positions.float()[:, None] * inv[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + _rotate_half(x) * sin


class SelfAttention(nn.Module):
    def __init__(self, c: SmolConfig) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.dim = c.num_heads, c.num_kv_heads, c.head_dim
        self.q_proj = nn.Linear(c.d_model, c.num_heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.d_model, c.num_kv_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.d_model, c.num_kv_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.num_heads * c.head_dim, c.d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, bias: torch.Tensor,
                past: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.dim).transpose(1, 2)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        rep = self.heads // self.kv_heads
        if rep > 1:  # grouped-query attention: each kv head serves `rep` consecutive query heads
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dim) + bias
        out = torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1)), present


class CrossAttention(nn.Module):
    """Decoder-to-encoder attention; zero output projection at init (the decoder is unchanged)."""

    def __init__(self, c: SmolConfig) -> None:
        super().__init__()
        self.heads, self.dim = c.num_heads, c.head_dim
        inner = c.num_heads * c.head_dim
        self.norm = RMSNorm(c.d_model, c.rms_norm_eps)
        self.q_proj = nn.Linear(c.d_model, inner, bias=False)
        self.k_proj = nn.Linear(c.enc_hidden, inner, bias=False)
        self.v_proj = nn.Linear(c.enc_hidden, inner, bias=False)
        self.o_proj = nn.Linear(inner, c.d_model, bias=False)
        nn.init.normal_(self.q_proj.weight, std=0.02)
        nn.init.normal_(self.k_proj.weight, std=0.02)
        nn.init.normal_(self.v_proj.weight, std=0.02)
        nn.init.zeros_(self.o_proj.weight)

    def keys_values(self, enc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder states [b, s, h] -> cross keys and values [b, heads, s, dim] (computed once)."""
        b, s, _ = enc.shape
        k = self.k_proj(enc).view(b, s, self.heads, self.dim).transpose(1, 2)
        v = self.v_proj(enc).view(b, s, self.heads, self.dim).transpose(1, 2)
        return k, v

    def forward(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor],
                enc_bias: torch.Tensor, enc_any: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(self.norm(x)).view(b, t, self.heads, self.dim).transpose(1, 2)
        scores = q @ kv[0].transpose(-1, -2) / math.sqrt(self.dim) + enc_bias
        out = torch.softmax(scores.float(), dim=-1).to(q.dtype) @ kv[1]
        out = out * enc_any  # rows without any encoder token get exactly nothing
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, c: SmolConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.up_proj = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.down_proj = nn.Linear(c.d_ff, c.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c: SmolConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(c.d_model, c.rms_norm_eps)
        self.self_attn = SelfAttention(c)
        self.post_attention_layernorm = RMSNorm(c.d_model, c.rms_norm_eps)
        self.mlp = MLP(c)


class LlamaStack(nn.Module):
    """Token embedding, layers and final norm; keys as transformers' `LlamaModel`."""

    def __init__(self, c: SmolConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.d_model)
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c.num_layers)])
        self.norm = RMSNorm(c.d_model, c.rms_norm_eps)


def causal_bias(t: int, p: int, key_mask: torch.Tensor | None, dtype: torch.dtype,
                device: torch.device | None = None) -> torch.Tensor:
    """Additive attention bias [b|1, 1, t, p + t]: causal over past + new, minus masked keys."""
    device = key_mask.device if key_mask is not None else device
    q_pos = torch.arange(t, device=device)[:, None] + p
    k_pos = torch.arange(p + t, device=device)[None, :]
    neg = torch.finfo(dtype).min
    bias = torch.where(k_pos <= q_pos, torch.zeros((), dtype=dtype), torch.full((), neg, dtype=dtype))
    bias = bias[None, None]
    if key_mask is not None:
        bias = bias + torch.where(key_mask[:, None, None, :] > 0, torch.zeros((), dtype=dtype),
                                  torch.full((), neg, dtype=dtype))
        bias = bias.clamp(min=neg)
    return bias


class SmolCodeT5p(nn.Module):
    """Encoder (BERT) + decoder (LLaMA with cross-attention) + embedding and matching heads."""

    def __init__(self, config: SmolConfig) -> None:
        super().__init__()
        from transformers import BertConfig, BertModel

        self.model_config = config
        c = config
        self.encoder = BertModel(BertConfig(
            vocab_size=c.enc_vocab_size, hidden_size=c.enc_hidden, num_hidden_layers=c.enc_layers,
            num_attention_heads=c.enc_heads, intermediate_size=c.enc_intermediate,
            max_position_embeddings=c.enc_max_positions, layer_norm_eps=c.enc_layer_norm_eps,
            pad_token_id=c.enc_pad_id, attn_implementation="eager"), add_pooling_layer=False)
        self.model = LlamaStack(c)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        if c.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.cross = nn.ModuleDict({str(i): CrossAttention(c) for i in c.cross_layers})
        self.proj = nn.Linear(c.enc_hidden, c.embed_dim)
        self.itm_head = nn.Linear(c.d_model, 2)
        with torch.no_grad():  # identity start: the embedding is the encoder's own mean pool
            self.proj.weight.zero_()
            n = min(c.enc_hidden, c.embed_dim)
            self.proj.weight[:n, :n] = torch.eye(n)
            self.proj.bias.zero_()
            nn.init.normal_(self.itm_head.weight, std=0.02)
            self.itm_head.bias.zero_()

    @property
    def device(self) -> torch.device:
        """Where the model's weights live (inputs are built there)."""
        return self.lm_head.weight.device

    # ---- freezing ---------------------------------------------------------------------------
    def trainable_prefixes(self) -> tuple[str, ...]:
        return ("encoder.", "cross.", "proj.", "itm_head.")

    def freeze_decoder(self) -> None:
        """Only the encoder, cross-attention blocks and heads learn."""
        for name, p in self.named_parameters():
            p.requires_grad = name.startswith(self.trainable_prefixes())

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The trained parts alone (what the repository ships)."""
        return {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()
                if k.startswith(self.trainable_prefixes())}

    def decoder_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()
                if k.startswith("model.")}

    # ---- encoder ----------------------------------------------------------------------------
    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Encoder states [b, s, h]."""
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def embed_from_hidden(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Masked mean pool -> projection -> unit vectors [b, embed_dim]."""
        m = attention_mask.to(hidden.dtype)[..., None]
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
        return F.normalize(self.proj(pooled), dim=-1)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.embed_from_hidden(self.encode(input_ids, attention_mask), attention_mask)

    def cross_keys_values(self, enc_hidden: torch.Tensor) -> Cross:
        """Per cross layer (in `cross_layers` order): keys and values [b, heads, s, dim]."""
        return [self.cross[str(i)].keys_values(enc_hidden) for i in self.model_config.cross_layers]

    # ---- decoder ----------------------------------------------------------------------------
    def decode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
               past: Past | None = None, cross: Cross | None = None,
               enc_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, Past]:
        """Final-norm decoder states [b, t, d] and the updated self-attention cache.

        `attention_mask` [b, p + t] masks padded keys (None: all real); `cross` / `enc_mask`
        are the cross keys/values and the encoder mask [b, s] (None: decoder-only)."""
        c = self.model_config
        b, t = input_ids.shape
        p = 0 if not past else past[0][0].shape[2]
        x = self.model.embed_tokens(input_ids)
        positions = torch.arange(p, p + t, device=input_ids.device)
        cos, sin = rotary(positions, c.head_dim, c.rope_theta)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        bias = causal_bias(t, p, attention_mask, x.dtype, x.device)
        enc_bias = enc_any = None
        if cross is not None:
            if enc_mask is None:
                enc_mask = torch.ones(b, cross[0][0].shape[2], dtype=torch.long, device=input_ids.device)
            neg = torch.finfo(x.dtype).min
            enc_bias = torch.where(enc_mask[:, None, None, :] > 0, torch.zeros((), dtype=x.dtype),
                                   torch.full((), neg, dtype=x.dtype))
            enc_any = (enc_mask.sum(-1) > 0).to(x.dtype)[:, None, None, None]
        slots = {layer: k for k, layer in enumerate(c.cross_layers)}
        presents: Past = []
        for i, layer in enumerate(self.model.layers):
            h, present = layer.self_attn(layer.input_layernorm(x), cos, sin, bias,
                                         past[i] if past else None)
            x = x + h
            presents.append(present)
            if cross is not None and i in slots:
                x = x + self.cross[str(i)](x, cross[slots[i]], enc_bias, enc_any)
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return self.model.norm(x), presents

    def logits(self, states: torch.Tensor) -> torch.Tensor:
        return self.lm_head(states)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                enc_input_ids: torch.Tensor | None = None,
                enc_attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced logits [b, t, V] (decoder-only when no encoder input is given)."""
        cross = None
        if enc_input_ids is not None:
            assert enc_attention_mask is not None
            cross = self.cross_keys_values(self.encode(enc_input_ids, enc_attention_mask))
        states, _ = self.decode(input_ids, attention_mask, None, cross, enc_attention_mask)
        return self.logits(states)

    def match_logits(self, enc_input_ids: torch.Tensor, enc_attention_mask: torch.Tensor,
                     input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Matching logits [b, 2]: the decoder reads the code, cross-attending to the text; the
        last real token's state goes to `itm_head` (logit 1 = match)."""
        cross = self.cross_keys_values(self.encode(enc_input_ids, enc_attention_mask))
        states, _ = self.decode(input_ids, attention_mask, None, cross, enc_attention_mask)
        last = attention_mask.long().sum(1) - 1
        return self.itm_head(states[torch.arange(states.size(0), device=states.device), last])


def load_weights(model: SmolCodeT5p, state: dict[str, torch.Tensor], what: str,
                 required: tuple[str, ...]) -> None:
    """Copy `state` into `model`; every key of `state` must exist, and every model key starting
    with one of `required` must be present in `state` (else a ValueError naming `what`)."""
    own = model.state_dict()
    unexpected = sorted(k for k in state if k not in own)
    missing = sorted(k for k in own if k.startswith(required) and k not in state
                     and not (k == "lm_head.weight" and model.model_config.tie_word_embeddings))
    if unexpected or missing:
        raise ValueError(f"{what}: does not fit config {model.model_config.name!r} "
                         f"(missing {missing[:4]}, unexpected {unexpected[:4]})")
    bad = [k for k, v in state.items() if tuple(v.shape) != tuple(own[k].shape)]
    if bad:
        raise ValueError(f"{what}: wrong shapes for {bad[:4]} (config {model.model_config.name!r})")
    model.load_state_dict(state, strict=False)
    if model.model_config.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def describe(model: SmolCodeT5p) -> dict[str, Any]:
    return {"total_parameters": count_parameters(model),
            "trainable_parameters": count_parameters(model, trainable_only=True)}
