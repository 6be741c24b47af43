"""The shipped default model, packed: `model/default_bundle.tar.xz`, unpacked once into the cache.

The bundle's ONNX graphs repeat the same weights (the shared embedding sits in every graph), so
the package ships one solid xz archive (about a third of the plain size) and the runtime unpacks
it on first use into `<user cache>/codet5p-lsp/default_bundle-<archive sha256[:16]>/`. Members
are checked before anything is written: regular files directly under `default_bundle/` only (no
links, no absolute or `..` paths). A corrupt or truncated archive is a `BundleError` naming it.
An unpacked `model/default_bundle/` (a developer's fresh export) wins over the archive.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
from functools import lru_cache
from pathlib import Path, PurePosixPath

from model.runtime.api import BundleError

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent.parent
ARCHIVE_NAME = "default_bundle.tar.xz"
TOP = "default_bundle"


def cache_root() -> Path:
    """`$CODET5P_CACHE` or the platform's user cache dir for codet5p-lsp."""
    env = os.environ.get("CODET5P_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("codet5p-lsp"))


def default_bundle_dir() -> Path:
    """The shipped default model: `model/default_bundle/` if present, else the unpacked archive.

    Returns the (possibly missing) `model/default_bundle` path when neither exists, so callers
    report a missing model with that path.
    """
    plain = PACKAGE_DIR / TOP
    if (plain / "manifest.json").is_file():
        return plain
    archive = PACKAGE_DIR / ARCHIVE_NAME
    if not archive.is_file():
        return plain
    return unpack(archive)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=4)
def unpack(archive: Path, root: Path | None = None) -> Path:
    """Unpack `archive` (once per content hash) and return the bundle directory."""
    target = (root or cache_root()) / f"{TOP}-{_sha256(archive)[:16]}"
    if (target / "manifest.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        try:
            with tarfile.open(archive, mode="r:xz") as tar:
                members = tar.getmembers()
                for member in members:
                    _check_member(archive, member)
                for member in members:
                    if member.isfile():
                        src = tar.extractfile(member)
                        assert src is not None
                        with src, (scratch / PurePosixPath(member.name).name).open("wb") as dst:
                            shutil.copyfileobj(src, dst)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BundleError(f"{archive}: corrupt or truncated archive ({exc})") from exc
        if not (scratch / "manifest.json").is_file():
            raise BundleError(f"{archive}: no {TOP}/manifest.json inside")
        try:
            scratch.rename(target)
        except OSError:  # another process unpacked it first
            if not (target / "manifest.json").is_file():
                raise
        log.info("unpacked the default model into %s", target)
        return target
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)


def _check_member(archive: Path, member: tarfile.TarInfo) -> None:
    parts = PurePosixPath(member.name).parts
    if member.isdir() and parts == (TOP,):
        return
    if not member.isfile() or len(parts) != 2 or parts[0] != TOP or parts[1] in ("..", "."):
        raise BundleError(f"{archive}: unexpected member {member.name!r} (only regular files "
                          f"directly under {TOP}/ are allowed)")


def pack(bundle_dir: Path, archive: Path) -> Path:
    """Write `bundle_dir` as a solid xz archive (large dictionary, so repeated weights dedupe)."""
    import lzma

    filters = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": 64 << 20}]
    tmp = archive.with_suffix(".tmp")
    with lzma.open(tmp, "wb", format=lzma.FORMAT_XZ, filters=filters) as raw, \
            tarfile.open(fileobj=raw, mode="w") as tar:
        for path in sorted(p for p in bundle_dir.iterdir() if p.is_file()):
            info = tar.gettarinfo(str(path), arcname=f"{TOP}/{path.name}")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with path.open("rb") as fh:
                tar.addfile(info, fh)
    tmp.replace(archive)
    return archive
