"""Reliability stress run (the long form of `tests/stress`), through real stdio clients.

    python bench/stress.py [--model BUNDLE] [--out bench/results/stress.json]

1. protocol fuzzing: hypothesis-drawn batches of malformed and hostile messages
   (`tests/support/fuzz.py`); every request must be answered, the server must stay alive;
2. load: a typing storm (didChange + inline completion + $/cancelRequest on several documents)
   and hover/search/completion while a generated tree of --tree-files files is indexed
   (p95 latency during indexing, unanswered requests, RSS growth);
3. kill -9 at random points of indexing, restart, compare the index with a fresh one;
4. faults, bad files and security checks: the `tests/stress` fault, bad-file, lifecycle and
   security tests, run by pytest, outcomes recorded.
Without --model a tiny random-weight bundle is built (the one the tests use): the figures are
about the server, not the model.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.faults import can_mount  # noqa: E402
from tests.support.fuzz import fuzz_targets, run_fuzz  # noqa: E402
from tests.support.index_check import fresh_snapshot  # noqa: E402
from tests.support.kill9 import kill9_trials  # noqa: E402
from tests.support.load import interactive_while_indexing, typing_storm  # noqa: E402
from tests.support.raw_client import RawClient  # noqa: E402
from tests.support.trees import make_tree  # noqa: E402

EXAMPLE = REPO / "examples" / "workspace"
FAULT_TESTS = ["tests/stress/test_faults.py", "tests/stress/test_bad_files.py",
               "tests/stress/test_security.py", "tests/stress/test_lifecycle.py",
               "tests/stress/test_protocol_regressions.py", "tests/stress/test_regressions_unit.py"]


def options(bundle: Path, cache: Path) -> dict:
    return {"model": {"path": str(bundle), "threads": 1}, "index": {"cacheDir": str(cache)},
            "completion": {"maxNewTokens": 8}}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_fuzz_phase(bundle: Path, work: Path, batches: int, seed: int) -> dict:
    root = work / "fuzz-ws"
    shutil.copytree(EXAMPLE, root)
    text = "def fuzz_target(x):\n    return x + 1\n"
    (root / "fuzzed.py").write_text(text)
    outside = work / "fuzz-outside.py"
    outside.write_text("def secret(): pass\n")
    client = RawClient(work / "fuzz-server.log")
    crashes = 0
    try:
        client.initialize(root, options(bundle, work / "fuzz-cache"))
        client.notify("textDocument/didOpen", {"textDocument": {"uri": (root / "fuzzed.py").as_uri(),
                                                                "languageId": "python", "version": 1, "text": text}})
        client.wait_until(lambda c: c.indexed(), 300)  # model loaded: RSS growth is the fuzzing's
        rss0 = client.rss_kb()
        report = run_fuzz(client, fuzz_targets(root, outside), batches // 2, seed=seed)
        rss_half = client.rss_kb()
        second = run_fuzz(client, fuzz_targets(root, outside), batches - batches // 2, seed=seed + 1)
        rss1 = client.rss_kb()
        for key in ("messages", "requests", "answered", "unanswered", "batches", "stray_stdout_bytes", "seconds"):
            setattr(report, key, getattr(report, key) + getattr(second, key))
        report.internal_errors += second.internal_errors
        for mine, theirs in ((report.kinds, second.kinds), (report.error_codes, second.error_codes)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
    except AssertionError as exc:
        crashes += 0 if client.alive() else 1
        return {"failed": str(exc)[:2000], "crashes": crashes}
    finally:
        code = client.close()
    out = asdict(report)
    out.update(crashes=crashes, exit_code=code, rss_kb_start=rss0, rss_kb_half=rss_half, rss_kb_end=rss1,
               rss_growth_kb=rss1 - rss0, rss_growth_second_half_kb=rss1 - rss_half,
               internal_errors=len(report.internal_errors),
               tracebacks_on_stdout=report.stray_stdout_bytes)
    return out


def run_storm_phase(bundle: Path, work: Path, edits: int) -> dict:
    root = work / "storm-ws"
    shutil.copytree(EXAMPLE, root)
    client = RawClient(work / "storm-server.log")
    try:
        client.initialize(root, options(bundle, work / "storm-cache"))
        client.wait_until(lambda c: c.indexed(), 300)
        figures = typing_storm(client, root, edits)
    finally:
        code = client.close()
    figures.pop("texts")
    figures.pop("uris")
    figures["exit_code"] = code
    figures["rss_growth_kb"] = figures["rss_kb_after"] - figures["rss_kb_before"]
    return figures


def run_index_load_phase(bundle: Path, work: Path, files: int, max_seconds: float) -> dict:
    t0 = time.monotonic()
    root = make_tree(work / "big-ws", files - 1, functions_per_file=1)  # + probe.py = `files`
    made = time.monotonic() - t0
    probe = root / "probe.py"
    text = "import os\n\ndef read_config(path):\n    return open(path).read()\n"
    probe.write_text(text)
    client = RawClient(work / "big-server.log")
    try:
        client.initialize(root, options(bundle, work / "big-cache"))
        figures = interactive_while_indexing(client, probe.as_uri(), text, max_seconds=max_seconds)
        figures["index_at_end"] = client.request("codet5p/getStatus", {}, timeout=60)["result"]["index"]
    finally:
        code = client.close(timeout=60)
    figures.update(tree_files=files, tree_seconds=round(made, 1), exit_code=code,
                   rss_growth_kb=figures["rss_kb_max"] - figures["rss_kb_start"])
    return figures


def run_kill_phase(bundle: Path, work: Path, trials: int, files: int, seed: int) -> dict:
    root = make_tree(work / "kill-ws", files)
    fresh = fresh_snapshot(root, work / "kill-fresh")
    results = kill9_trials(root, fresh, options(bundle, work / "kill-cache"), work, trials, seed=seed)
    return {"trials": len(results), "tree_files": files, "fresh_symbols": fresh.symbol_rows,
            "inconsistent": sum(not t.consistent for t in results),
            "killed_mid_indexing": sum(t.mid_indexing for t in results),
            "files_at_kill": [t.files_at_kill for t in results],
            "problems": [p for t in results for p in t.problems_at_kill + t.problems_after_restart][:20],
            "delays_s": [t.delay_s for t in results]}


def run_fault_tests(work: Path) -> dict:
    xml = work / "faults.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
                           *FAULT_TESTS], cwd=REPO, env=env, capture_output=True, text=True)
    cases = []
    for case in ET.parse(xml).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        cases.append({"test": f"{case.get('classname', '').split('.')[-1]}::{case.get('name')}",
                      "outcome": "failed" if failed else "skipped" if skipped else "passed",
                      "seconds": round(float(case.get("time", 0)), 2)})
    return {"exit_code": proc.returncode, "passed": sum(c["outcome"] == "passed" for c in cases),
            "failed": sum(c["outcome"] == "failed" for c in cases), "cases": cases,
            "disk_full_method": "tmpfs mount" if can_mount() else "RLIMIT_FSIZE",
            "read_only_method": "read-only bind mount" if can_mount() else "chmod a-w",
            "tail": proc.stdout[-1500:] if proc.returncode else ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model bundle (default: build the tiny test bundle)")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/stress.json", help="JSON report path")
    parser.add_argument("--fuzz-batches", type=int, default=1000, help="fuzz batches (12-25 messages each)")
    parser.add_argument("--edits", type=int, default=1000, help="didChange edits in the typing storm")
    parser.add_argument("--tree-files", type=int, default=50_000, help="files in the tree indexed under load")
    parser.add_argument("--index-seconds", type=float, default=300, help="how long to measure while indexing")
    parser.add_argument("--kill-trials", type=int, default=25, help="kill -9 trials")
    parser.add_argument("--kill-files", type=int, default=1500, help="files in the kill -9 tree")
    parser.add_argument("--seed", type=int, default=0, help="seed for the fuzzer and the kill delays")
    parser.add_argument("--skip", nargs="*", default=[], choices=["fuzz", "storm", "index", "kill", "faults"],
                        help="phases to leave out")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = Path(tempfile.mkdtemp(prefix="codet5p-stress-"))
    t_start = time.monotonic()
    bundle = args.model
    if bundle is None:
        log("building the tiny test bundle")
        from model.testing import build_tiny_bundle
        bundle = build_tiny_bundle(work / "bundle")
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    report: dict = {"command": "python bench/stress.py " + " ".join(sys.argv[1:]), "git_revision": rev,
                    "machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()[0],
                                "python": platform.python_version()},
                    "model": str(args.model or "tiny random-weight test bundle"), "config": vars(args) | {
                        "model": str(args.model), "out": os.path.relpath(args.out.resolve(), REPO)}}
    phases = [("fuzz", lambda: run_fuzz_phase(bundle, work, args.fuzz_batches, args.seed)),
              ("storm", lambda: run_storm_phase(bundle, work, args.edits)),
              ("index_load", lambda: run_index_load_phase(bundle, work, args.tree_files, args.index_seconds)),
              ("kill9", lambda: run_kill_phase(bundle, work, args.kill_trials, args.kill_files, args.seed)),
              ("faults", lambda: run_fault_tests(work))]
    for name, run in phases:
        if name.split("_")[0] in args.skip:
            continue
        log(f"phase {name}")
        t0 = time.monotonic()
        try:
            report[name] = run()
        except Exception as exc:  # a phase that breaks is a finding: record it, run the rest
            report[name] = {"failed": f"{type(exc).__name__}: {exc}"[:2000]}
        report[name]["phase_seconds"] = round(time.monotonic() - t0, 1)
        log(f"phase {name} done in {report[name]['phase_seconds']} s")
    report["summary"] = summarize(report)
    report["seconds"] = round(time.monotonic() - t_start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report["summary"], indent=2))
    return 0 if report["summary"]["ok"] else 1


def summarize(r: dict) -> dict:
    fuzz, storm, idx, kill, faults = (r.get(k, {}) for k in ("fuzz", "storm", "index_load", "kill9", "faults"))
    s = {"fuzz_messages": fuzz.get("messages"), "fuzz_requests": fuzz.get("requests"),
         "fuzz_crashes": fuzz.get("crashes"), "fuzz_unanswered": fuzz.get("unanswered"),
         "fuzz_internal_errors": fuzz.get("internal_errors"), "fuzz_stdout_garbage_bytes": fuzz.get("stray_stdout_bytes"),
         "fuzz_rss_growth_kb": fuzz.get("rss_growth_kb"), "fuzz_rss_growth_second_half_kb": fuzz.get("rss_growth_second_half_kb"),
         "storm_edits": storm.get("edits"), "storm_unanswered": storm.get("unanswered"),
         "storm_completion_p95_ms": storm.get("latency_ms_p95"), "storm_rss_growth_kb": storm.get("rss_growth_kb"),
         "index_tree_files": idx.get("tree_files"), "interactive_p95_during_indexing_ms": idx.get("p95_ms"),
         "interactive_requests_during_indexing": idx.get("requests_during_indexing"),
         "index_unanswered": idx.get("unanswered"), "index_rss_growth_kb": idx.get("rss_growth_kb"),
         "kill9_trials": kill.get("trials"), "kill9_inconsistent": kill.get("inconsistent"),
         "kill9_mid_indexing": kill.get("killed_mid_indexing"),
         "fault_tests_passed": faults.get("passed"), "fault_tests_failed": faults.get("failed")}
    s["ok"] = bool(
        (s["fuzz_messages"] or 0) >= 10_000 and s["fuzz_crashes"] == 0 and s["fuzz_unanswered"] == 0
        and s["storm_unanswered"] == 0 and s["index_unanswered"] == 0
        and (s["kill9_trials"] or 0) >= 20 and s["kill9_inconsistent"] == 0 and s["fault_tests_failed"] == 0)
    return s


if __name__ == "__main__":
    raise SystemExit(main())
