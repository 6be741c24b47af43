"""`codet5p-train transfer pack|unpack|corpus`: move a model directory between machines in
compressed, size-capped parts (float16, or int8 with per-row scales; see `training.transfer`),
or a corpus (a deterministic share of its train files, all its pairs) as one .tar.xz."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "transfer"
HELP = "pack a model directory into size-capped parts, or unpack such parts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    pack = sub.add_parser("pack", help="model directory -> NAME.pack.NN parts + NAME.pack.json")
    pack.add_argument("model_dir", type=Path)
    pack.add_argument("out_dir", type=Path)
    pack.add_argument("--precision", default="fp16", choices=("fp16", "int8"))
    pack.add_argument("--name", default=None, help="file name stem (default: the directory's name)")
    pack.add_argument("--max-part-mb", type=float, default=16.0, help="largest part, MiB (default 16)")
    unpack = sub.add_parser("unpack", help="NAME.pack.json (+ its parts) -> float32 model directory")
    unpack.add_argument("meta", type=Path)
    unpack.add_argument("out_dir", type=Path)
    corpus = sub.add_parser("corpus", help="corpus directory -> one .tar.xz for a training machine")
    corpus.add_argument("corpus", type=Path)
    corpus.add_argument("out", type=Path)
    corpus.add_argument("--train-fraction", type=float, default=1.0,
                        help="keep this share of the train files, chosen by content hash (default all)")
    corpus.add_argument("--instructions", type=Path, default=None,
                        help="also carry this instructions JSONL (as instruct/train.jsonl)")


def run(args: argparse.Namespace) -> int:
    from training.transfer import TransferError, pack_model_dir, unpack_model_dir

    if args.action == "corpus" and not 0 < args.train_fraction <= 1:
        print("codet5p-train transfer: error: --train-fraction must be in (0, 1]", file=sys.stderr)
        return 1

    try:
        if args.action == "pack":
            parts = pack_model_dir(args.model_dir, args.out_dir, args.precision,
                                   int(args.max_part_mb * 2**20) - 4096, args.name)
            print(json.dumps({"parts": [str(p) for p in parts],
                              "bytes": sum(p.stat().st_size for p in parts)}, indent=2))
        elif args.action == "unpack":
            print(unpack_model_dir(args.meta, args.out_dir))
        else:
            from training.transfer import pack_corpus

            print(json.dumps(pack_corpus(args.corpus, args.out, args.train_fraction, args.instructions), indent=2))
    except (TransferError, OSError) as exc:
        print(f"codet5p-train transfer: error: {exc}", file=sys.stderr)
        return 1
    return 0
