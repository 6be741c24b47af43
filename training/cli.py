"""`codet5p-train`: the training CLI. Subcommands live one per module in `training.commands`.

Each command module defines `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`; the
modules are imported lazily, so `codet5p-train --help` is fast and one broken command cannot
take the others down.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

# subcommand name -> module in training.commands
COMMANDS: dict[str, str] = {
    "tokenizer": "tokenizer",
    "corpus": "corpus",
    "pretrain": "pretrain",
    "instruct": "instruct",
    "recipe": "recipe",
    "export": "export",
    "eval": "evaluate",
    "transfer": "transfer",
    "smol-recipe": "smol",
    "smol-export": "smol_export",
}

HELP: dict[str, str] = {
    "tokenizer": "train the byte-level BPE tokenizer on the train split",
    "corpus": "build the code corpus, text-code pairs, held-out sets and data card",
    "pretrain": "run one training stage (stage1 / stage2) from a config",
    "instruct": "instruction-tune a checkpoint",
    "recipe": "run corpus -> tokenizer -> stage 1 -> stage 2 -> instruct -> export, resumably",
    "export": "export a checkpoint to an ONNX bundle with parity check",
    "eval": "evaluate a bundle (retrieval, summarize, complete, humaneval)",
    "transfer": "pack a model directory into size-capped parts, or unpack such parts",
    "smol-recipe": "train the smol model (MiniLM encoder + frozen SmolLM2 decoder), resumably",
    "smol-export": "export a smol model directory to a bundle (encoder + trained parts; optionally build the decoder)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codet5p-train", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        sub.add_parser(name, help=HELP[name], add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = build_parser()
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0
    verbose = False
    while argv and argv[0] in ("-v", "--verbose"):
        verbose = True
        argv.pop(0)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    name = argv[0]
    if name not in COMMANDS:
        top.error(f"unknown command {name!r}; choose from {', '.join(COMMANDS)}")
    module = importlib.import_module(f"training.commands.{COMMANDS[name]}")
    parser = argparse.ArgumentParser(prog=f"codet5p-train {name}", description=HELP[name])
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
