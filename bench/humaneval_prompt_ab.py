"""HumanEval with the frozen decoder: the plain continuation vs other ways of asking.

The shipped runtime scores HumanEval as the released CodeT5+ 2B+ models are scored: the decoder
continues the problem's prompt. SmolLM2-135M-*Instruct* was tuned on its chat template, so this
bench also asks it as a user turn ("Complete this Python function" + the prompt in a code
block) and lets the assistant turn start with the prompt again, so its continuation is the
body. And the encoder-decoder mode: the trained encoder reads the prompt and the decoder
cross-attends to it while it continues the prompt (text->code as stage 2 trained it). All
greedy, same stops, the same sandboxed checks, one run (`--formats` picks some).

    python bench/humaneval_prompt_ab.py [--bundle B] [--limit 164] [--formats continuation encoder] --out R.json
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report_tools import write_report  # noqa: E402
from model.formats import HUMANEVAL_STOP  # noqa: E402
from model.runtime import GenerationConfig, Runtime  # noqa: E402
from model.runtime.packed import default_bundle_dir  # noqa: E402
from training.eval.data import default_humaneval_path, read_jsonl  # noqa: E402
from training.eval.humaneval import pass_metrics, run_samples  # noqa: E402

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CHAT = ("<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nComplete this Python function.\n"
        "```python\n{prompt}```<|im_end|>\n<|im_start|>assistant\n```python\n{prompt}")

FORMATS = {  # key: (report name, decoder prompt, extra stops, the encoder reads the prompt)
    "continuation": ("continuation (the runtime's)", lambda p: p["prompt"], (), False),
    "chat": ("chat template", lambda p: CHAT.format(system=SYSTEM, prompt=p["prompt"]), ("```",), False),
    "encoder": ("continuation, the encoder reading the prompt", lambda p: p["prompt"], (), True),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=None, help="default: the shipped bundle")
    ap.add_argument("--limit", type=int, default=164)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--formats", nargs="+", choices=sorted(FORMATS), default=sorted(FORMATS))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    rt = Runtime.load(args.bundle or default_bundle_dir(), threads=args.threads)
    problems = {p["task_id"]: p for p in read_jsonl(default_humaneval_path(), "humaneval", args.limit)}
    report: dict = {"bundle": "shipped default" if args.bundle is None else args.bundle.name,
                    "problems": len(problems), "systems": {}}
    for key in args.formats:
        name, fmt, extra_stops, encoder = FORMATS[key]
        cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, stop_strings=tuple(HUMANEVAL_STOP) + extra_stops)
        t = time.perf_counter()
        samples = [(tid, rt.complete_function(fmt(p), cfg, p["prompt"] if encoder else None).text)
                   for tid, p in problems.items()]
        report["systems"][name] = {**pass_metrics(run_samples(problems, samples, workers=2)),
                                   "seconds": round(time.perf_counter() - t, 1)}
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
