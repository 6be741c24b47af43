"""`codet5p-train corpus`: download the pinned wheels and build corpus, pairs, held-out sets, data card."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from training.paths import cache_root, wheel_cache

NAME = "corpus"
HELP = "build the code corpus, text-code pairs, held-out sets and data card"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=cache_root() / "corpus",
                        help="output directory (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=wheel_cache(),
                        help="wheel download cache (default: %(default)s)")
    parser.add_argument("--distributions", type=Path, default=None,
                        help="pinned name==version list (default: training/data/distributions.txt)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N pins (0 = all)")
    parser.add_argument("--no-download", action="store_true", help="use only wheels already cached")
    parser.add_argument("--stdlib", type=Path, default=None,
                        help="directory used as the standard-library test split (default: this interpreter's)")
    parser.add_argument("--dist-dir", type=Path, action="append", default=[],
                        help="a directory of distributions (each a folder with METADATA) used instead of "
                             "wheels; repeatable (fixtures)")
    parser.add_argument("--valid-fraction", type=float, default=0.03, help="share of distributions for valid")
    parser.add_argument("--threshold", type=float, default=0.8, help="near-duplicate Jaccard threshold")
    parser.add_argument("--heldout-n", type=int, default=1000, help="examples per held-out set")
    parser.add_argument("--seed", type=int, default=0, help="seed for held-out sampling")


def run(args: argparse.Namespace) -> int:
    from training.data.corpus import build_corpus
    from training.data.sources import (DISTRIBUTIONS_FILE, cached_wheels, dir_distribution, download_wheels,
                                       read_pins, stdlib_distribution, wheel_distribution)

    extra: dict = {}
    if args.dist_dir:
        dists = [dir_distribution(p) for d in args.dist_dir for p in sorted(d.iterdir()) if p.is_dir()]
        extra["sources"] = [str(d) for d in args.dist_dir]
    else:
        pin_file = args.distributions or DISTRIBUTIONS_FILE
        try:
            pins = read_pins(pin_file)
        except OSError as exc:
            log.error("%s: cannot read the distribution list (%s)", pin_file, exc)
            return 2
        if args.limit:
            pins = pins[: args.limit]
        if not args.no_download:
            status = download_wheels(pins, args.cache)
            extra["download_failed"] = sorted(p for p, s in status.items() if s == "failed")
        wheels = cached_wheels(pins, args.cache)
        dists = [d for d in (wheel_distribution(w) for w in wheels) if d is not None]
        extra["pins"] = pins
        extra["unreadable_wheels"] = len(wheels) - len(dists)
    stdlib = stdlib_distribution(args.stdlib)
    card = build_corpus(args.out, dists, [stdlib], valid_fraction=args.valid_fraction,
                        threshold=args.threshold, heldout_n=args.heldout_n, seed=args.seed,
                        extra_card=extra)
    summary = {s: {k: v[k] for k in ("distributions", "files", "bytes", "pairs")} for s, v in card["splits"].items()}
    print(json.dumps({"out": str(args.out), "splits": summary, "dropped": card["dropped_files"],
                      "rejected": len(card["rejected_distributions"])}, indent=2))
    return 0
