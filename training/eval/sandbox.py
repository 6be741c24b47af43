"""Run untrusted (model-generated) Python inside a bubblewrap sandbox.

The program sees only read-only `/usr` (plus the interpreter's prefix when it lives elsewhere),
fresh `/proc` and a read-only minimal `/dev`, and one writable scratch directory (its working directory and
`TMPDIR`); it has no network (all namespaces unshared: net, pid, ipc, uts, user, cgroup), dies
with its parent, and runs under rlimits (CPU seconds, address space, file size, open files)
set by a small wrapper before the program starts, plus a wall-clock timeout that kills the
whole sandbox. Nothing is ever executed outside the sandbox: when `bwrap` is missing,
`SandboxUnavailable` says how to install it (Debian/Ubuntu: `apt-get install bubblewrap`).
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_WRAPPER = r"""
import resource, sys
cpu, mem, fsize, nofile = (int(x) for x in sys.argv[1:5])
for lim, val in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, mem),
                 (resource.RLIMIT_FSIZE, fsize), (resource.RLIMIT_NOFILE, nofile),
                 (resource.RLIMIT_CORE, 0)):
    resource.setrlimit(lim, (val, val))
path = sys.argv[5]
sys.argv = [path]
code = compile(open(path, encoding="utf-8").read(), path, "exec")
exec(code, {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__})
"""


class SandboxUnavailable(RuntimeError):
    """bubblewrap is not installed or cannot create namespaces here."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one run."""

    timeout_s: float = 10.0         # wall clock; the sandbox is killed after it
    cpu_s: int = 10                 # RLIMIT_CPU
    memory_bytes: int = 1 << 30     # RLIMIT_AS
    file_bytes: int = 16 << 20      # RLIMIT_FSIZE
    open_files: int = 64            # RLIMIT_NOFILE


@dataclass
class SandboxResult:
    """Outcome of one run: `status` is "ok", "error" (non-zero exit) or "timeout"."""

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float

    @property
    def passed(self) -> bool:
        return self.status == "ok"


def find_bwrap() -> str:
    """Path of the bwrap binary, or `SandboxUnavailable` with install instructions."""
    path = shutil.which("bwrap")
    if not path:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, and generated code is never run without a "
            "sandbox; install it (Debian/Ubuntu: `apt-get install -y bubblewrap`)")
    return path


def unavailable_reason() -> str | None:
    """None when a sandbox can be started here, else why not (for skips and diagnostics)."""
    try:
        result = run_python("print('ok')", SandboxLimits(timeout_s=30.0))
    except SandboxUnavailable as exc:
        return str(exc)
    return None if result.stdout.strip() == "ok" else f"sandbox probe failed: {result.stderr.strip()[-300:]}"


def _python() -> str:
    """The interpreter used inside the sandbox: the system /usr python when present."""
    for cand in ("/usr/bin/python3",):
        if os.path.exists(cand):
            return cand
    return getattr(sys, "_base_executable", sys.executable)


def _bwrap_argv(bwrap: str, python: str, scratch: Path, limits: SandboxLimits) -> list[str]:
    argv = [bwrap, "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin"):
        link = Path("/") / name
        if link.is_symlink():
            argv += ["--symlink", os.readlink(link), str(link)]
        elif link.is_dir():
            argv += ["--ro-bind", str(link), str(link)]
    prefix = Path(python).resolve().parents[1]
    if not str(prefix).startswith("/usr"):
        argv += ["--ro-bind", str(prefix), str(prefix)]
    argv += ["--proc", "/proc", "--dev", "/dev", "--bind", str(scratch), "/scratch",
             "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/scratch", "--unshare-all", "--die-with-parent", "--new-session",
             "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "TMPDIR", "/scratch",
             "--setenv", "HOME", "/scratch", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
             python, "-I", "-c", _WRAPPER, str(limits.cpu_s), str(limits.memory_bytes),
             str(limits.file_bytes), str(limits.open_files), "/scratch/program.py"]
    return argv


def run_python(program: str, limits: SandboxLimits = SandboxLimits(),
               scratch_root: str | None = None) -> SandboxResult:
    """Run `program` (Python source) in a fresh sandbox with a fresh scratch directory."""
    bwrap = find_bwrap()
    with tempfile.TemporaryDirectory(prefix="codet5p-sandbox-", dir=scratch_root) as tmp:
        scratch = Path(tmp)
        (scratch / "program.py").write_text(program, encoding="utf-8")
        argv = _bwrap_argv(bwrap, _python(), scratch, limits)
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=limits.timeout_s)
            # rc 128+9 / 128+24: killed by the CPU rlimit (SIGKILL at the hard limit / SIGXCPU)
            status = ("ok" if proc.returncode == 0 else
                      "timeout" if proc.returncode in (137, 152, -9, -24) else "error")
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:  # exited between the timeout and the kill
                pass
            out, err = proc.communicate()
            status = "timeout"
        wall = time.monotonic() - start
        stderr = err.decode("utf-8", "replace")
        if status == "error" and proc.returncode == 1 and stderr.startswith("bwrap:"):
            raise SandboxUnavailable(f"bwrap could not start the sandbox: {stderr.strip()}")
        return SandboxResult(status, proc.returncode, out.decode("utf-8", "replace")[-4000:],
                             stderr[-4000:], wall)
