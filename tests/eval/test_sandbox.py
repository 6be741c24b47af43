"""The bubblewrap sandbox: no network, read-only outside scratch, limits enforced."""
from __future__ import annotations

import time

import pytest

from training.eval import sandbox
from training.eval.sandbox import SandboxLimits, SandboxUnavailable, run_python, unavailable_reason

_WHY_NOT = unavailable_reason()
needs_bwrap = pytest.mark.skipif(_WHY_NOT is not None, reason=f"no sandbox here: {_WHY_NOT}")


def test_missing_bwrap_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="apt-get install -y bubblewrap"):
        run_python("print(1)")


@needs_bwrap
def test_runs_code_and_reports_failures():
    ok = run_python("print(6 * 7)")
    assert ok.passed and ok.stdout.strip() == "42"
    bad = run_python("raise AssertionError('nope')")
    assert bad.status == "error" and "AssertionError" in bad.stderr


@needs_bwrap
def test_network_is_denied():
    prog = ("import socket\n"
            "try:\n"
            "    socket.create_connection(('1.1.1.1', 53), timeout=3)\n"
            "    print('CONNECTED')\n"
            "except OSError as e:\n"
            "    print('DENIED', e.errno)\n"
            "print(sorted(n for _, n in socket.if_nameindex()))\n")
    res = run_python(prog)
    assert res.passed, res.stderr
    assert "DENIED" in res.stdout and "CONNECTED" not in res.stdout
    assert "eth0" not in res.stdout


@needs_bwrap
def test_filesystem_is_read_only_outside_scratch_and_host_is_hidden(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host data")
    prog = (f"import os\n"
            f"print('visible' if os.path.exists({str(secret)!r}) else 'hidden')\n"
            "for target in ('/usr/evil', '/evil', '/dev/shm/evil'):\n"
            "    try:\n"
            "        open(target, 'w').write('x')\n"
            "        print('WROTE', target)\n"
            "    except OSError:\n"
            "        print('blocked', target)\n"
            "open('scratch.txt', 'w').write('ok')\n"
            "print(open('/scratch/scratch.txt').read(), os.getcwd())\n")
    res = run_python(prog)
    assert res.passed, res.stderr
    assert "hidden" in res.stdout and "WROTE" not in res.stdout
    assert "ok /scratch" in res.stdout


@needs_bwrap
def test_time_limit_is_enforced():
    start = time.monotonic()
    res = run_python("while True:\n    pass\n", SandboxLimits(timeout_s=3.0, cpu_s=1))
    assert res.status == "timeout" and not res.passed
    assert time.monotonic() - start < 10
    res = run_python("import time\ntime.sleep(30)\n", SandboxLimits(timeout_s=1.0, cpu_s=5))
    assert res.status == "timeout" and res.wall_s < 5


@needs_bwrap
def test_memory_limit_is_enforced():
    res = run_python("x = bytearray(1 << 31)\nprint('allocated')\n",
                     SandboxLimits(memory_bytes=512 << 20))
    assert not res.passed and "MemoryError" in res.stderr
