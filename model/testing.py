"""Test helpers: a tiny random-weight model directory and bundle (needs torch; for tests only).

`build_tiny_model_dir` trains a byte-level BPE on a fixed text sample and saves a `tiny` config
model with random weights (deterministic for a seed); `build_tiny_bundle` exports it with int8
graphs through the real export path (`model.export`). Both take well under a minute.
"""
from __future__ import annotations

from pathlib import Path

SAMPLE_TEXT: tuple[str, ...] = (
    "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n    return a + b\n",
    "def read_file(path):\n    with open(path, encoding='utf-8') as f:\n        return f.read()\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n"
    "        self.items.append(x)\n",
    "for i in range(10):\n    if i % 2 == 0:\n        print(i)\n",
    "import os\nimport sys\n\nif __name__ == '__main__':\n    main(sys.argv[1:])\n",
    "function greet(name) {\n  return 'hello ' + name;\n}\nconst xs = [1, 2, 3].map(x => x * 2);\n",
    "func main() {\n\tfmt.Println(\"hello world\")\n}\n",
    "public static int max(int a, int b) { return a > b ? a : b; }\n",
    "Return the sum of two numbers. Read a file and return its text. Print the even numbers.",
    "Sort a list of numbers in place. Parse the command line arguments. Open a socket.",
)


def tokenizer_corpus(repeats: int = 20) -> list[str]:
    """The fixed text the tiny tokenizer is trained on."""
    return list(SAMPLE_TEXT) * repeats


def build_tiny_model_dir(out_dir: str | Path, seed: int = 0, config_name: str = "tiny", **overrides: object) -> Path:
    """Write a tiny random-weight model directory (config.json, model.safetensors, tokenizer.json)."""
    import torch

    from model.config import get_config
    from model.modeling import build_model, save_model_dir
    from model.tokenizer import CodeTokenizer

    tok = CodeTokenizer.train(tokenizer_corpus(), vocab_size=600, min_frequency=2)
    config = get_config(config_name, **overrides).with_vocab(tok.vocab_size)  # type: ignore[arg-type]
    with torch.random.fork_rng():
        model = build_model(config, seed=seed)
    return save_model_dir(model, tok, out_dir, extra={"built_by": "model.testing", "seed": seed})


def build_tiny_bundle(out_dir: str | Path, seed: int = 0, model_dir: str | Path | None = None) -> Path:
    """Export a tiny model (built from `seed`, or the given `model_dir`) to the bundle `out_dir`."""
    import tempfile

    from model.export import ExportOptions, export_bundle

    out_dir = Path(out_dir)
    if model_dir is not None:
        return export_bundle(model_dir, out_dir, ExportOptions(overwrite=True))
    with tempfile.TemporaryDirectory(prefix="tiny-model-") as tmp:
        src = build_tiny_model_dir(Path(tmp) / "model", seed=seed)
        return export_bundle(src, out_dir, ExportOptions(overwrite=True))


# ---- replicas of the Salesforce checkpoint layouts (tiny, random weights) ----------------------
REPLICA_KINDS = ("codet5p-220m", "codet5p-110m-embedding", "codet5p-220m-bimodal")
_REMOTE_CODE = {
    "codet5p-110m-embedding": ("configuration_codet5p_embedding", "CodeT5pEmbeddingConfig",
                               "modeling_codet5p_embedding", "CodeT5pEmbeddingModel", "codet5p_embedding"),
    "codet5p-220m-bimodal": ("configuration_codet5p_bimodal", "CodeT5pBimodalConfig",
                             "modeling_codet5p_bimodal", "CodeT5pBimodalModel", "codet5p_bimodal"),
}
# Executing any of the replica's Python files leaves this marker next to it.
EXECUTED_MARKER = "EXECUTED_REMOTE_CODE"


def _salesforce_tokenizer_files(out: Path, with_task_tokens: bool) -> int:
    """Write vocab.json (specials + BPE + sentinels 99..0), merges.txt, added_tokens.json, maps."""
    import json

    from model import special_tokens as st
    from model.tokenizer import CodeTokenizer

    tok = CodeTokenizer.train(tokenizer_corpus(), vocab_size=600, min_frequency=2)
    spec = json.loads(tok.to_json())
    vocab: dict[str, int] = dict(spec["model"]["vocab"])
    for i in reversed(range(st.NUM_SENTINELS)):
        vocab[st.sentinel(i)] = len(vocab)
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    size = len(vocab)
    if with_task_tokens:
        added = {t: size + i for i, t in enumerate(st.TASK_TOKENS)}
        (out / "added_tokens.json").write_text(json.dumps(added))
        size += len(added)
    extra = [st.sentinel(i) for i in range(st.NUM_SENTINELS)]
    (out / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": st.BOS, "eos_token": st.EOS, "unk_token": st.UNK, "pad_token": st.PAD,
        "mask_token": st.MASK, "sep_token": st.EOS, "cls_token": st.BOS, "additional_special_tokens": extra}))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "RobertaTokenizer", "model_max_length": 512, "add_prefix_space": False,
        "errors": "replace", "bos_token": st.BOS, "eos_token": st.EOS, "unk_token": st.UNK,
        "pad_token": st.PAD, "mask_token": st.MASK}))
    return size


def build_replica(kind: str, out_dir: str | Path, seed: int = 0, use_bin: bool = False) -> Path:
    """A tiny checkpoint directory laid out like the Salesforce release `kind` (random weights).

    Same `config.json` `architectures`/`auto_map`/`model_type`, the same state-dict key names and
    tokenizer files. Its `*.py` files only leave `EXECUTED_MARKER` behind if anything runs them.
    With `use_bin`, weights are written as `pytorch_model.bin` instead of safetensors.
    """
    import json

    import torch
    from safetensors.torch import save_file
    from torch import nn
    from transformers import T5Config, T5EncoderModel, T5ForConditionalGeneration

    if kind not in REPLICA_KINDS:
        raise ValueError(f"unknown replica kind {kind!r}; known: {', '.join(REPLICA_KINDS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokens = _salesforce_tokenizer_files(out, with_task_tokens=kind != "codet5p-220m")
    dims = dict(d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4, relative_attention_num_buckets=8,
                relative_attention_max_distance=32, dropout_rate=0.0, feed_forward_proj="relu",
                layer_norm_epsilon=1e-6, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                decoder_start_token_id=0)
    vocab = tokens  # 220m: no task tokens (no added_tokens.json), as in the release
    t5 = T5Config(vocab_size=vocab, num_decoder_layers=2, **dims)
    torch.manual_seed(seed)
    if kind == "codet5p-110m-embedding":
        net: nn.Module = T5EncoderModel(t5)
        net.proj = nn.Linear(64, 32)
    else:
        net = T5ForConditionalGeneration(t5)
        if kind == "codet5p-220m-bimodal":
            net.proj = nn.Linear(64, 32)
            net.itm_head = nn.Linear(64, 2)
    state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()
             if k not in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")}
    if t5.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    if use_bin:
        torch.save(state, out / "pytorch_model.bin")
    else:
        save_file(state, str(out / "model.safetensors"))
    config: dict[str, object] = {**dims, "vocab_size": vocab, "n_positions": 512, "is_encoder_decoder": True,
                                 "use_cache": True, "torch_dtype": "float32", "initializer_factor": 1.0}
    if kind == "codet5p-220m":
        config.update(architectures=["T5ForConditionalGeneration"], model_type="t5", num_decoder_layers=2)
    else:
        cfg_mod, cfg_cls, mdl_mod, mdl_cls, model_type = _REMOTE_CODE[kind]
        config.update(architectures=[mdl_cls], model_type=model_type, embed_dim=32,
                      auto_map={"AutoConfig": f"{cfg_mod}.{cfg_cls}", "AutoModel": f"{mdl_mod}.{mdl_cls}"})
        if kind == "codet5p-220m-bimodal":
            config["num_decoder_layers"] = 2
        else:
            config["is_encoder_decoder"] = False
        for mod in (cfg_mod, mdl_mod):
            (out / f"{mod}.py").write_text(
                "import pathlib\n"
                f"pathlib.Path(__file__).with_name({EXECUTED_MARKER!r}).write_text('executed')\n"
                "raise RuntimeError('remote code must never run')\n")
    (out / "config.json").write_text(json.dumps(config, indent=2))
    return out
