"""Temperature sampling of HumanEval completions from a torch model directory (for pass@10).

The runtime decodes greedily (one program per problem, so pass@1 only); the unbiased pass@k
estimator needs n >= k samples per problem. This module samples them from the model
directory (`model.modeling.load_model_dir`) with the same InstructCodeT5+ prompt and stop
strings as the bundle path, on CUDA when available. Needs torch (the `train` extra).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def sample_humaneval(model_dir: str | Path, problems: dict[str, dict[str, Any]], n: int = 10,
                     temperature: float = 0.8, top_p: float = 0.95, max_new_tokens: int = 256,
                     seed: int = 0, device: str = "auto") -> list[dict[str, str]]:
    """`n` sampled completions per problem as `{"task_id", "completion"}` rows (seeded)."""
    import torch

    from model.formats import HUMANEVAL_INSTRUCTION, HUMANEVAL_STOP, instruction_example
    from model.modeling import load_model_dir
    from model.runtime.api import GenerationConfig
    from model.runtime.decoding import apply_text_rules

    if n < 1 or temperature <= 0:
        raise ValueError("sampling needs n >= 1 and temperature > 0")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tok = load_model_dir(model_dir, map_location=device)
    model.to(device).eval()
    stops = GenerationConfig(stop_strings=tuple(HUMANEVAL_STOP))
    start = model.config.decoder_start_token_id
    rows: list[dict[str, str]] = []
    for i, (task_id, problem) in enumerate(problems.items()):
        torch.manual_seed(seed * 100_003 + i)  # per problem: results do not depend on the subset
        ex = instruction_example(tok, HUMANEVAL_INSTRUCTION.format(prompt=problem["prompt"]),
                                 max_source_length=model.model_config.max_source_length)
        enc = torch.tensor([ex.encoder_ids], device=device)
        dec = torch.tensor([[start] + list(ex.decoder_prefix)], device=device)
        with torch.no_grad():
            out = model.generate(input_ids=enc, attention_mask=torch.ones_like(enc),
                                 decoder_input_ids=dec, do_sample=True, temperature=temperature,
                                 top_p=top_p, max_new_tokens=max_new_tokens, num_return_sequences=n,
                                 eos_token_id=tok.eos_id, pad_token_id=tok.pad_id)
        for seq in out.tolist():
            text = tok.decode(seq[dec.shape[1]:])
            rows.append({"task_id": task_id, "completion": apply_text_rules(text, stops)[0]})
        if (i + 1) % 20 == 0:
            log.info("sampled %d/%d problems", i + 1, len(problems))
    return rows
