"""Which workspace files are indexed, and reading them safely.

Rules: only files with a known language extension; `.gitignore` files (root and nested) and the
configured exclude globs are honoured; directories such as `.git` and `node_modules` are always
skipped; files over the size limit, binary files (a NUL byte in the first 8 KiB) and files that
are not valid UTF-8 are skipped with a reason; symlinks are followed only when they resolve
inside the workspace root (a symlink loop is skipped); FIFOs, sockets and devices are never
opened for reading (a FIFO would block the reader forever), and a file name that is not valid
UTF-8 is skipped (it cannot be stored or sent to the editor). Nothing is ever executed.
"""
from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import pathspec

from lsp_server.languages import language_for_path

log = logging.getLogger(__name__)

ALWAYS_SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
    ".pytest_cache", "target", "dist", "build", ".idea", ".vscode", ".eggs",
})


class SkippedFile(ValueError):
    """A file that is not indexed; the message says why."""


@dataclass(frozen=True)
class FileRules:
    """Limits applied to every file."""

    max_file_size: int = 1_000_000
    exclude: tuple[str, ...] = ()


def is_inside(path: Path, root: Path) -> bool:
    """True when `path` (resolved, symlinks followed) lies inside `root` (resolved)."""
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return False


def _bad_name(name: str) -> bool:
    """True for a file name that is not valid UTF-8 (os.scandir hands it over with surrogates)."""
    try:
        name.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _symlink_problem(path: Path, root: Path) -> str | None:
    """Why a symlink is not followed: a loop, or a target outside the root; None if fine."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return "dangling symlink"
    except (OSError, RuntimeError):
        return "symlink loop"
    try:
        target.relative_to(root)
    except ValueError:
        return "symlink out of the workspace"
    return None


class IgnoreMatcher:
    """`.gitignore` files (each applying to its directory) plus exclude globs, relative to root."""

    def __init__(self, root: Path, exclude: Sequence[str] = ()) -> None:
        self.root = root
        self.exclude = pathspec.PathSpec.from_lines("gitwildmatch", list(exclude))
        self._specs: dict[Path, pathspec.PathSpec | None] = {}

    def _spec_for(self, directory: Path) -> pathspec.PathSpec | None:
        if directory not in self._specs:
            gi = directory / ".gitignore"
            spec = None
            try:
                if gi.is_file() and is_inside(gi, self.root):
                    spec = pathspec.PathSpec.from_lines(
                        "gitwildmatch", gi.read_text("utf-8", "replace").splitlines())
            except OSError as exc:
                log.warning("cannot read %s: %s", gi, exc)
            self._specs[directory] = spec
        return self._specs[directory]

    def ignored(self, path: Path, is_dir: bool = False) -> bool:
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return True
        rel_posix = rel.as_posix() + ("/" if is_dir else "")
        if self.exclude.match_file(rel_posix):
            return True
        for parent in [self.root, *[self.root / p for p in list(rel.parents)[::-1][1:]]]:
            spec = self._spec_for(parent)
            if spec is not None:
                sub = path.relative_to(parent).as_posix() + ("/" if is_dir else "")
                if spec.match_file(sub):
                    return True
        return False


def is_indexable(path: Path, root: Path, matcher: IgnoreMatcher) -> bool:
    """The walk's rules for one file: known language, inside the root, not ignored anywhere up."""
    if language_for_path(path) is None or not is_inside(path, root):
        return False
    try:
        rel = path.relative_to(root)
    except ValueError:
        return False  # reached through a symlink elsewhere: not ours
    if any(part in ALWAYS_SKIPPED_DIRS for part in rel.parts[:-1]):
        return False
    parent = root
    for part in rel.parts[:-1]:
        parent = parent / part
        if matcher.ignored(parent, is_dir=True):
            return False
    return not matcher.ignored(path)


def walk(root: Path, rules: FileRules = FileRules()) -> Iterator[Path]:
    """Indexable files under `root`, sorted per directory; never leaves the root."""
    root = root.resolve()
    matcher = IgnoreMatcher(root, rules.exclude)
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            log.warning("cannot list %s: %s", directory, exc)
            continue
        subdirs = []
        for entry in entries:
            path = Path(entry.path)
            try:
                if _bad_name(entry.name):
                    log.info("skipping %r: the file name is not valid UTF-8", entry.path)
                    continue
                if entry.is_symlink():
                    problem = _symlink_problem(path, root)
                    if problem is not None:
                        log.info("skipping %s: %s", path, problem)
                        continue
                if entry.is_dir():
                    if entry.name in ALWAYS_SKIPPED_DIRS or matcher.ignored(path, is_dir=True):
                        continue
                    if entry.is_symlink():
                        continue  # avoid cycles; the target is inside the root and walked anyway
                    subdirs.append(path)
                elif language_for_path(entry.name) is not None and not matcher.ignored(path):
                    if entry.is_file():
                        yield path
                    else:
                        log.info("skipping %s: not a regular file", path)
            except OSError as exc:
                log.warning("skipping %s: %s", path, exc)
        stack.extend(reversed(subdirs))


def read_source(path: Path, root: Path | None, rules: FileRules = FileRules()) -> str:
    """The file's text; raises SkippedFile naming the file and the reason."""
    if root is not None and not is_inside(path, root):
        raise SkippedFile(f"{path}: outside the workspace root {root}")
    try:  # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SkippedFile(f"{path}: cannot open ({exc.strerror})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SkippedFile(f"{path}: not a regular file")
        if info.st_size > rules.max_file_size:
            raise SkippedFile(f"{path}: {info.st_size} bytes is over the {rules.max_file_size}-byte limit")
        data = _read_at_most(fd, rules.max_file_size + 1)
    except OSError as exc:
        raise SkippedFile(f"{path}: cannot read ({exc.strerror})") from exc
    finally:
        os.close(fd)
    if len(data) > rules.max_file_size:  # it grew while being read
        raise SkippedFile(f"{path}: over the {rules.max_file_size}-byte limit")
    return decode_source(data, str(path))


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, total = [], 0
    while total < limit:
        chunk = os.read(fd, min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def decode_source(data: bytes, name: str) -> str:
    """UTF-8 text of `data`; raises SkippedFile for binary or non-UTF-8 content."""
    if b"\x00" in data[:8192]:
        raise SkippedFile(f"{name}: binary file (NUL byte)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkippedFile(f"{name}: not valid UTF-8 at byte {exc.start}") from exc
