"""The packed default bundle: unpack once into the cache, load it, refuse bad archives."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from model.runtime import BundleError, Runtime
from model.runtime.packed import ARCHIVE_NAME, PACKAGE_DIR, pack, unpack


def test_pack_unpack_roundtrip_loads(tiny_bundle: Path, tmp_path: Path) -> None:
    archive = pack(tiny_bundle, tmp_path / "b.tar.xz")
    out = unpack(archive, tmp_path / "cache")
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in tiny_bundle.iterdir() if p.is_file())
    assert unpack(archive, tmp_path / "cache") == out  # once per content hash
    rt = Runtime.load(out, threads=1)
    assert rt.embed(["def f(): pass"]).shape[0] == 1


def test_truncated_archive_is_named(tiny_bundle: Path, tmp_path: Path) -> None:
    archive = pack(tiny_bundle, tmp_path / "b.tar.xz")
    cut = tmp_path / "cut.tar.xz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(BundleError, match="cut.tar.xz: corrupt or truncated"):
        unpack(cut, tmp_path / "cache")
    assert not any((tmp_path / "cache").glob("default_bundle-*"))


def test_member_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        data = b"{}"
        info = tarfile.TarInfo("default_bundle/../../escape.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BundleError, match="unexpected member"):
        unpack(archive, tmp_path / "cache")
    assert not (tmp_path / "escape.json").exists()


def test_shipped_archive_is_small_enough() -> None:
    archive = PACKAGE_DIR / ARCHIVE_NAME
    if not archive.is_file():
        pytest.skip("no shipped default model in this checkout")
    assert archive.stat().st_size <= 40 * 1024 * 1024
