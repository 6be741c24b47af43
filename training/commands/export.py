"""`codet5p-train export CHECKPOINT OUT_BUNDLE`: export a model directory to an ONNX bundle.

The bundle is written only if the torch-vs-ONNX parity check passes (see `model.export`).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

NAME = "export"
HELP = "export a checkpoint to an ONNX bundle with parity check"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="model directory (config.json, model.safetensors, tokenizer.json)")
    parser.add_argument("out_bundle", help="bundle directory to create")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--no-int8", action="store_true", help="skip int8 dynamic quantisation")
    parser.add_argument("--int8-only", action="store_true",
                        help="keep only the int8 graphs in the bundle (fp32 still used for the checks)")
    parser.add_argument("--max-logit-diff", type=float, default=1e-3,
                        help="refuse the bundle if |torch - ORT fp32| logits exceed this (default 1e-3)")
    parser.add_argument("--min-int8-agreement", type=float, default=0.0,
                        help="refuse the bundle if int8-vs-fp32 greedy token agreement is lower (0..1)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT_BUNDLE if it exists")
    parser.add_argument("--threads", type=int, default=2, help="torch threads during export")


def run(args: argparse.Namespace) -> int:
    import torch

    from model.export import ExportError, ExportOptions, export_bundle
    from model.modeling import ModelDirError
    from model.runtime.api import BundleError

    torch.set_num_threads(max(1, args.threads))
    options = ExportOptions(opset=args.opset, quantize=not args.no_int8, keep_fp32=not args.int8_only,
                            max_logit_diff=args.max_logit_diff, min_int8_agreement=args.min_int8_agreement,
                            overwrite=args.overwrite)
    try:
        out = export_bundle(args.checkpoint, args.out_bundle, options)
    except (ExportError, ModelDirError, BundleError, ValueError) as exc:
        print(f"codet5p-train export: error: {exc}", file=sys.stderr)
        return 1
    manifest = json.loads((out / "manifest.json").read_text())
    print(json.dumps({"bundle": str(out), "parity": manifest["parity"]}, indent=2))
    return 0
