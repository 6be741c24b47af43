"""Importing Salesforce-layout checkpoints (tiny replicas) round-trips through a bundle."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn
from transformers import RobertaTokenizerFast, T5Config, T5EncoderModel, T5ForConditionalGeneration

from model import formats
from model.export import ExportOptions
from model.importer import ImportError_, convert, import_checkpoint
from model.runtime import GenerationConfig, Runtime
from model.testing import EXECUTED_MARKER, build_replica

TEXTS = ["def add(a, b):\n    return a + b", "read a file", "for i in range(3): print(i)"]


def _t5_config(src):
    data = json.loads((src / "config.json").read_text())
    keys = ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_decoder_layers", "num_heads",
            "relative_attention_num_buckets", "relative_attention_max_distance", "dropout_rate",
            "feed_forward_proj", "layer_norm_epsilon", "pad_token_id", "eos_token_id", "decoder_start_token_id")
    return T5Config(**{k: data[k] for k in keys if k in data})


def _reference(kind, src):
    """The replica as plain transformers modules (built here, never from the directory's code)."""
    state = load_file(str(src / "model.safetensors"))
    cfg = _t5_config(src)
    if kind == "codet5p-110m-embedding":
        net = T5EncoderModel(cfg)
    else:
        net = T5ForConditionalGeneration(cfg)
    if "proj.weight" in state:
        net.proj = nn.Linear(cfg.d_model, state["proj.weight"].shape[0])
    if "itm_head.weight" in state:
        net.itm_head = nn.Linear(cfg.d_model, 2)
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected and all("embed_tokens" in k or k == "lm_head.weight" for k in missing)
    net.tie_weights()
    return net.eval()


@pytest.fixture(scope="module", params=["codet5p-220m", "codet5p-110m-embedding", "codet5p-220m-bimodal"])
def imported(request, tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp(request.param)
    src = build_replica(request.param, root / "src", seed=3)
    bundle = import_checkpoint(src, root / "bundle", model_dir=root / "model")
    return request.param, src, bundle


def test_replica_round_trip(imported):
    kind, src, bundle = imported
    assert not (src / EXECUTED_MARKER).exists(), "code from the checkpoint directory was executed"
    rt = Runtime.load(bundle, threads=1, precision="fp32")
    ref = _reference(kind, src)
    tok = rt.tokenizer
    # the tokenizer is the Salesforce one: same ids as a RoBERTa BPE over vocab.json/merges.txt
    hf_tok = RobertaTokenizerFast(vocab_file=str(src / "vocab.json"), merges_file=str(src / "merges.txt"))
    for t in TEXTS:
        assert tok.encode(t) == hf_tok(t, add_special_tokens=False)["input_ids"]
    vocab = json.loads((src / "vocab.json").read_text())
    assert tok.token_id("<extra_id_0>") == vocab["<extra_id_0>"]
    assert rt.has_decoder == (kind != "codet5p-110m-embedding")
    assert rt.has_embedding == (kind != "codet5p-220m")
    assert rt.has_matching == (kind == "codet5p-220m-bimodal")
    with torch.no_grad():
        if rt.has_embedding:
            ids, mask = formats.pad_batch([formats.embedding_input(tok, t) for t in TEXTS], tok.pad_id)
            ids_t, mask_t = torch.tensor(ids), torch.tensor(mask)
            hidden = ref.encoder(input_ids=ids_t, attention_mask=mask_t).last_hidden_state
            expected = F.normalize(ref.proj(hidden[:, 0]), dim=-1).numpy()
            np.testing.assert_allclose(rt.embed(TEXTS), expected, atol=1e-5)
        if rt.has_decoder:
            ex = formats.fim_example(tok, "def add(a, b):\n    return ", "\n")
            enc = torch.tensor([ex.encoder_ids])
            out = ref.generate(input_ids=enc, attention_mask=torch.ones_like(enc),
                               decoder_input_ids=torch.tensor([[0] + ex.decoder_prefix]),
                               max_new_tokens=8, min_new_tokens=8, do_sample=False, num_beams=1,
                               suppress_tokens=[tok.pad_id])
            expected_ids = out[0, 1 + len(ex.decoder_prefix):].tolist()
            got = rt.generate(ex, GenerationConfig(max_new_tokens=8), end_ids=frozenset())
            assert got.token_ids == expected_ids
        if rt.has_matching:
            pairs = [formats.matching_inputs(tok, "add numbers", c) for c in TEXTS]
            e_ids, e_mask = (torch.tensor(a) for a in formats.pad_batch([pairs[0][0]] * len(TEXTS), tok.pad_id))
            d_ids, d_mask = (torch.tensor(a) for a in formats.pad_batch([p[1] for p in pairs], tok.pad_id))
            h = ref.encoder(input_ids=e_ids, attention_mask=e_mask).last_hidden_state
            dec = ref.decoder(input_ids=d_ids, attention_mask=d_mask, encoder_hidden_states=h,
                              encoder_attention_mask=e_mask).last_hidden_state
            last = d_mask.sum(1) - 1
            probs = torch.softmax(ref.itm_head(dec[torch.arange(len(TEXTS)), last]), dim=-1)[:, 1].numpy()
            np.testing.assert_allclose(rt.match_scores("add numbers", TEXTS), probs, atol=1e-5)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["parity"]["max_logit_diff"] < 1e-4
    assert manifest["source"]["model_dir_info"]["kind"] in ("seq2seq", "embedding", "bimodal")


def test_220m_gets_task_tokens(tmp_path):
    src = build_replica("codet5p-220m", tmp_path / "src")
    model_dir = convert(src, tmp_path / "model")
    cfg = json.loads((model_dir / "config.json").read_text())["model"]
    base = json.loads((src / "config.json").read_text())["vocab_size"]
    assert cfg["vocab_size"] == base + 3  # [ENC] [TDEC] [CDEC] appended, embeddings grown


def test_unknown_architecture(tmp_path):
    src = build_replica("codet5p-220m", tmp_path / "src")
    data = json.loads((src / "config.json").read_text())
    data["architectures"] = ["LlamaForCausalLM"]
    (src / "config.json").write_text(json.dumps(data))
    with pytest.raises(ImportError_, match=r"config\.json: unsupported architecture \['LlamaForCausalLM'\]"):
        convert(src, tmp_path / "model")


def test_missing_config(tmp_path):
    (tmp_path / "src").mkdir()
    with pytest.raises(ImportError_, match=r"config\.json: missing"):
        convert(tmp_path / "src", tmp_path / "model")


def test_pickle_needs_flag(tmp_path):
    src = build_replica("codet5p-110m-embedding", tmp_path / "src", use_bin=True)
    with pytest.raises(ImportError_, match=r"pytorch_model\.bin: only a pickle checkpoint .* --allow-bin"):
        convert(src, tmp_path / "model")
    bundle = import_checkpoint(src, tmp_path / "bundle", allow_bin=True, options=ExportOptions(quantize=False))
    assert Runtime.load(bundle, threads=1).embed(["x"]).shape == (1, 32)


def test_pickle_with_code_is_refused(tmp_path):
    src = build_replica("codet5p-110m-embedding", tmp_path / "src", use_bin=True)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"proj.weight": Evil()}, src / "pytorch_model.bin")
    with pytest.raises(ImportError_, match=r"pytorch_model\.bin: refused by torch\.load\(weights_only=True\)"):
        convert(src, tmp_path / "model", allow_bin=True)


def test_weights_that_do_not_fit(tmp_path):
    src = build_replica("codet5p-220m-bimodal", tmp_path / "src")
    data = json.loads((src / "config.json").read_text())
    data["d_ff"] = 96
    (src / "config.json").write_text(json.dumps(data))
    with pytest.raises(ImportError_, match=r"model\.safetensors: .* has shape"):
        convert(src, tmp_path / "model")
