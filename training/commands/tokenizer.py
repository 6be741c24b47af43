"""`codet5p-train tokenizer`: train the BPE on the corpus train split; add token counts to the data card."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.paths import cache_root


NAME = "tokenizer"
HELP = "train the byte-level BPE tokenizer on the train split"

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", type=Path, default=cache_root() / "corpus",
                        help="corpus directory from `codet5p-train corpus` (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None,
                        help="directory for tokenizer.json (default: <corpus>/tokenizer)")
    parser.add_argument("--vocab-size", type=int, default=16384,
                        help="BPE entries incl. 5 base specials; 103 sentinel/task tokens are appended")
    parser.add_argument("--max-chars", type=int, default=50_000_000, help="training text budget")
    parser.add_argument("--min-frequency", type=int, default=2, help="BPE merge minimum frequency")


def run(args: argparse.Namespace) -> int:
    from training.data.tokens import train_tokenizer, update_card_tokens

    out = args.out or args.corpus / "tokenizer"
    tok = train_tokenizer(args.corpus, args.vocab_size, out, args.max_chars, args.min_frequency)
    counts = update_card_tokens(args.corpus, tok)
    print(json.dumps({"tokenizer": str(out / "tokenizer.json"), "vocab_size": tok.vocab_size,
                      "tokens": counts}, indent=2))
    return 0
