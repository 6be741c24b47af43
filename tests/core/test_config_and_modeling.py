"""Named configs and the torch CodeT5+ modules: shapes, heads, save/load round-trip."""
from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from model.config import CONFIGS, ModelConfig, get_config  # noqa: E402
from model.modeling import ModelDirError, build_model, load_model_dir, save_model_dir  # noqa: E402
from model.tokenizer import CodeTokenizer  # noqa: E402


def test_published_shapes_match_reference() -> None:
    c = get_config("codet5p-220m")
    assert (c.d_model, c.num_layers, c.num_decoder_layers, c.num_heads, c.d_ff, c.vocab_size) == (768, 12, 12, 12, 3072, 32100)
    c = get_config("codet5p-770m")
    assert (c.d_model, c.num_layers, c.num_heads, c.d_ff) == (1024, 24, 16, 4096)
    assert 200e6 < get_config("codet5p-220m").num_parameters() < 240e6
    assert 10e6 <= get_config("small").num_parameters() <= 30e6


def test_config_json_roundtrip_and_errors() -> None:
    c = get_config("tiny")
    assert ModelConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="unknown model config keys: bogus"):
        ModelConfig.from_dict({**c.to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="unknown model config 'huge'"):
        get_config("huge")


def test_param_count_matches_torch() -> None:
    cfg = get_config("tiny")
    model = build_model(cfg, seed=0)
    assert sum(p.numel() for p in model.parameters()) == cfg.num_parameters()


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory: pytest.TempPathFactory):
    tok = CodeTokenizer.train(["def f(x):\n    return x * 2\n"] * 50, vocab_size=280, min_frequency=1)
    model = build_model(get_config("tiny").with_vocab(tok.vocab_size), seed=0)
    return model, tok


def test_heads_shapes_and_norm(tiny_pair) -> None:
    model, tok = tiny_pair
    ids = torch.tensor([[tok.bos_id] + tok.encode("return x") + [tok.eos_id]] * 3)
    mask = torch.ones_like(ids)
    emb = model.embed(ids, mask)
    assert emb.shape == (3, model.model_config.embed_dim)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-5)
    dec = torch.tensor([[tok.enc_id] + tok.encode("x") + [tok.eos_id, 0], [tok.enc_id, tok.eos_id, 0, 0], [tok.enc_id] * 3 + [tok.eos_id]])
    dmask = (dec != 0).long()
    logits = model.match_logits(model.encode(ids, mask), mask, dec, dmask)
    assert logits.shape == (3, 2) and torch.isfinite(logits).all()


def test_save_load_roundtrip(tiny_pair, tmp_path: Path) -> None:
    model, tok = tiny_pair
    save_model_dir(model, tok, tmp_path)
    loaded, tok2 = load_model_dir(tmp_path)
    ids = torch.tensor([[1, 5, 6, 2]])
    dec = torch.tensor([[0, 7, 8]])
    with torch.no_grad():
        a = model.eval()(input_ids=ids, decoder_input_ids=dec).logits
        b = loaded(input_ids=ids, decoder_input_ids=dec).logits
    assert torch.allclose(a, b)
    assert tok2.sha256() == tok.sha256()


def test_load_errors_name_the_file(tiny_pair, tmp_path: Path) -> None:
    model, tok = tiny_pair
    with pytest.raises(ModelDirError, match="config.json: missing"):
        load_model_dir(tmp_path)
    save_model_dir(model, tok, tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelDirError, match="model.safetensors: unreadable"):
        load_model_dir(tmp_path)
