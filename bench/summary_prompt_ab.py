"""Do worked examples before the summary prompt help? BLEU-4 of hover summaries, A/B on validation pairs.

    python bench/summary_prompt_ab.py [--model BUNDLE] [--limit 120] [--threads 2]
                                      [--out bench/results/summary_prompt_ab.json]

The pairs (first docstring sentence, function without its docstring: `training.data.pairs`) come
from pure-Python packages installed beside the project (click, jinja2, packaging, ...), never
from the standard library, which is the test set; shuffled with seed 0, first `--limit`. Each arm
runs `SmolRuntime.summarize` on the same pairs in one process, with the runtime's prompt
(`model.smol.formats.summary_prompt_ids`) preceded by nothing (the shipped prompt), one or three
documented example functions in the imperative style of the references. Smoothed BLEU-4 as
`codet5p-train eval summarize`.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from report_tools import write_report  # noqa: E402  (bench/report_tools.py)

PACKAGES = ("click", "jinja2", "packaging", "pygls", "sqlite_utils", "attr", "dateutil", "pathspec", "platformdirs",
            "pluggy", "cattrs", "idna", "tabulate", "markupsafe", "filelock", "narwhals", "psutil", "pyparsing")
EXAMPLES = [
    'def read_lines(path, encoding="utf-8"):\n    """Return the lines of the text file at path, without line endings."""\n'
    '    with open(path, encoding=encoding) as f:\n        return f.read().splitlines()\n\n\n',
    'def is_hidden(name):\n    """Check whether a file name is hidden on Unix."""\n    return name.startswith(".")\n\n\n',
    'def add_header(request, key, value):\n    """Set a header on the request, replacing any earlier value."""\n'
    '    request.headers[key] = value\n\n\n',
]
ARMS = {"shipped prompt": "", "one example first": EXAMPLES[0], "three examples first": "".join(EXAMPLES)}


def validation_pairs(limit: int) -> list[dict[str, str]]:
    import sysconfig

    from training.data.pairs import extract_pairs

    site = Path(sysconfig.get_paths()["purelib"])
    rows: list[dict[str, str]] = []
    for pkg in PACKAGES:
        for path in sorted((site / pkg).rglob("*.py")):
            try:
                rows += list(extract_pairs(path.read_text(encoding="utf-8")))
            except (SyntaxError, ValueError, UnicodeDecodeError):
                continue
    random.Random(0).shuffle(rows)
    return rows[:limit]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--limit", type=int, default=120)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "summary_prompt_ab.json"))
    args = ap.parse_args()
    import model.runtime.smol_runtime as smol_runtime
    from model.runtime import GenerationConfig
    from model.runtime.packed import default_bundle_dir
    from training.eval.bleu import corpus_smoothed_bleu

    rows = validation_pairs(args.limit)
    rt = smol_runtime.SmolRuntime.load(args.model or default_bundle_dir(), threads=args.threads)
    shipped = smol_runtime.summary_prompt_ids
    results: dict[str, Any] = {}
    try:
        for arm, preamble in ARMS.items():
            pre = rt._need_decoder().dec_encode(preamble) if preamble else []
            smol_runtime.summary_prompt_ids = lambda pair, code, budget, pre=pre: pre + shipped(pair, code, budget)
            t0 = time.perf_counter()
            outs = [rt.summarize(r["code"], GenerationConfig(max_new_tokens=32)).text for r in rows]
            results[arm] = {"bleu4": round(corpus_smoothed_bleu([r["docstring"] for r in rows], outs), 2),
                            "seconds": round(time.perf_counter() - t0, 1), "examples": outs[:3]}
            print(f"{arm}: BLEU-4 {results[arm]['bleu4']}", file=sys.stderr)
    finally:
        smol_runtime.summary_prompt_ids = shipped
    report = {"bench": "summary_prompt_ab", "pairs": len(rows), "packages": PACKAGES,
              "command": "python bench/summary_prompt_ab.py " + " ".join(sys.argv[1:]),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "arms": results}
    write_report(report, Path(args.out))


if __name__ == "__main__":
    main()
