"""The smol decoder equals transformers' LLaMA; cross-attention starts as a no-op; cache parity."""
from __future__ import annotations

import pytest
import torch

from model.smol.config import SMOL_CONFIGS, SmolConfig, get_smol_config
from model.smol.modeling import SmolCodeT5p, count_parameters, load_weights


def _llama_pair(config: SmolConfig) -> tuple[object, SmolCodeT5p]:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    hf = LlamaForCausalLM(LlamaConfig(
        vocab_size=config.vocab_size, hidden_size=config.d_model, intermediate_size=config.d_ff,
        num_hidden_layers=config.num_layers, num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads, head_dim=config.head_dim, rope_theta=config.rope_theta,
        rms_norm_eps=config.rms_norm_eps, tie_word_embeddings=True, attn_implementation="eager")).eval()
    ours = SmolCodeT5p(config).eval()
    state = {k: v for k, v in hf.state_dict().items() if k != "lm_head.weight"}
    load_weights(ours, state, "hf llama", ("model.",))
    return hf, ours


def test_decoder_matches_transformers_llama() -> None:
    config = get_smol_config("smol-tiny")
    hf, ours = _llama_pair(config)
    ids = torch.randint(3, config.vocab_size, (2, 11))
    with torch.no_grad():
        ref = hf(ids).logits
        got = ours(ids)
    assert torch.allclose(ref, got, atol=1e-4), (ref - got).abs().max()


def test_cached_decoding_equals_uncached() -> None:
    config = get_smol_config("smol-tiny")
    _, model = _llama_pair(config)
    torch.nn.init.normal_(model.cross["2"].o_proj.weight, std=0.1)
    ids = torch.randint(3, config.vocab_size, (1, 9))
    enc = torch.randint(1000, 2000, (1, 5))
    emask = torch.ones_like(enc)
    with torch.no_grad():
        full = model(ids, enc_input_ids=enc, enc_attention_mask=emask)
        cross = model.cross_keys_values(model.encode(enc, emask))
        s1, past = model.decode(ids[:, :4], None, None, cross, emask)
        s2, _ = model.decode(ids[:, 4:], None, past, cross, emask)
    assert torch.allclose(model.logits(s2), full[:, 4:], atol=1e-5)


def test_fresh_cross_attention_leaves_the_decoder_unchanged() -> None:
    config = get_smol_config("smol-tiny")
    hf, model = _llama_pair(config)
    ids = torch.randint(3, config.vocab_size, (2, 7))
    enc = torch.randint(1000, 2000, (2, 4))
    with torch.no_grad():
        plain = hf(ids).logits
        crossed = model(ids, enc_input_ids=enc, enc_attention_mask=torch.ones_like(enc))
    assert torch.allclose(plain, crossed, atol=1e-4)


def test_no_encoder_tokens_add_exactly_nothing() -> None:
    config = get_smol_config("smol-tiny")
    _, model = _llama_pair(config)
    torch.nn.init.normal_(model.cross["2"].o_proj.weight, std=0.5)
    ids = torch.randint(3, config.vocab_size, (1, 6))
    enc = torch.randint(1000, 2000, (1, 3))
    with torch.no_grad():
        alone = model(ids)
        masked = model(ids, enc_input_ids=enc, enc_attention_mask=torch.zeros_like(enc))
        real = model(ids, enc_input_ids=enc, enc_attention_mask=torch.ones_like(enc))
    assert torch.equal(alone, masked)
    assert not torch.allclose(alone, real)


def test_only_encoder_cross_attention_and_heads_train() -> None:
    model = SmolCodeT5p(get_smol_config("smol-tiny"))
    model.freeze_decoder()
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all(n.startswith(("encoder.", "cross.", "proj.", "itm_head.")) for n in names)
    assert not any(n.startswith(("model.", "lm_head")) for n in names)
    assert count_parameters(model, trainable_only=True) == get_smol_config("smol-tiny").trainable_parameters()


def test_embedding_head_starts_as_the_encoders_mean_pool() -> None:
    model = SmolCodeT5p(get_smol_config("smol-tiny")).eval()
    ids = torch.tensor([[101, 2000, 2001, 102, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 0]])
    with torch.no_grad():
        hidden = model.encode(ids, mask)
        pooled = torch.nn.functional.normalize(hidden[:, :4].mean(1), dim=-1)
        assert torch.allclose(model.embed(ids, mask), pooled, atol=1e-6)


def test_config_round_trip_and_checks() -> None:
    for config in SMOL_CONFIGS.values():
        assert SmolConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="cross_layers"):
        get_smol_config("smol-tiny", cross_layers=(7,))
    with pytest.raises(ValueError, match="unknown smol config keys"):
        SmolConfig.from_dict({**SMOL_CONFIGS["smol"].to_dict(), "bogus": 1})
    assert SMOL_CONFIGS["smol"].decoder_parameters() == 134_515_008  # SmolLM2-135M
