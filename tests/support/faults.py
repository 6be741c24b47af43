"""Fault injection helpers: a read-only or tiny (disk-full) cache directory, by mount when this
process may mount (root), else by permissions or `RLIMIT_FSIZE`. Each says which it used."""
from __future__ import annotations

import os
import resource
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


def _run(*cmd: str) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


NO_MOUNT_ENV = "CODET5P_STRESS_NO_MOUNT"  # set to 1 to test the fallbacks where mounting works


def can_mount() -> bool:
    return os.geteuid() == 0 and Path("/bin/mount").exists() and not os.environ.get(NO_MOUNT_ENV)


@contextmanager
def read_only(directory: Path) -> Iterator[str]:
    """Make `directory` read-only for the server (a read-only bind mount, or chmod when not
    root); yields the method used."""
    if can_mount() and _run("mount", "--bind", str(directory), str(directory)):
        if _run("mount", "-o", "remount,ro,bind", str(directory)):
            try:
                yield "read-only bind mount"
            finally:  # writable again first (umount is refused while the server has files open)
                if not _run("mount", "-o", "remount,rw,bind", str(directory)):
                    raise RuntimeError(f"cannot make {directory} writable again")
                _run("umount", "-l", str(directory))
            return
        _run("umount", "-l", str(directory))
    if os.geteuid() == 0:
        import pytest
        pytest.skip("root without mount permission: permissions cannot make a directory read-only")
    modes = {p: p.stat().st_mode for p in [directory, *directory.iterdir()]}
    for p in modes:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield "chmod a-w"
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


@contextmanager
def small_disk(directory: Path, size_kb: int) -> Iterator[tuple[str, Callable[[], None] | None]]:
    """A `size_kb` filesystem at `directory` (tmpfs) when mounting is permitted; otherwise
    yields a `preexec_fn` that sets RLIMIT_FSIZE in the server process instead."""
    directory.mkdir(parents=True, exist_ok=True)
    if can_mount() and _run("mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(directory)):
        try:
            yield f"tmpfs of {size_kb} KiB", None
        finally:
            _run("umount", "-l", str(directory))
        return
    limit = size_kb * 1024

    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    yield f"RLIMIT_FSIZE of {size_kb} KiB (mounting not permitted)", preexec
