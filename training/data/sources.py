"""Where corpus files come from: the standard library, wheels in the download cache, and
plain directories (test fixtures). Nothing here imports or executes the code it reads.

A `Distribution` knows its name, version, licence metadata and how to iterate its `.py` files
as `(relative path, bytes)`; decoding and filtering happen in `training.data.corpus`.
"""
from __future__ import annotations

import email.parser
import logging
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

DISTRIBUTIONS_FILE = Path(__file__).with_name("distributions.txt")
STDLIB_SKIP = {"site-packages", "dist-packages", "test", "tests", "idlelib", "turtledemo",
               "__pycache__", "lib2to3", "ensurepip", "venv"}


@dataclass
class Distribution:
    name: str
    version: str
    license: str  # the licence string recorded for every file
    classifiers: list[str] = field(default_factory=list)
    kind: str = "wheel"  # wheel | stdlib | dir
    location: Path = Path()

    def files(self) -> Iterator[tuple[str, bytes | None]]:
        """(relative path, raw bytes or None when unreadable) of every `.py` file."""
        if self.kind == "wheel":
            try:
                with zipfile.ZipFile(self.location) as zf:
                    for info in zf.infolist():
                        if info.filename.endswith(".py") and not info.is_dir():
                            try:
                                yield info.filename, zf.read(info)
                            except (OSError, zipfile.BadZipFile, ValueError):
                                yield info.filename, None
            except (OSError, zipfile.BadZipFile) as exc:
                log.warning("%s: unreadable wheel (%s)", self.location, exc)
            return
        skip = STDLIB_SKIP if self.kind == "stdlib" else {"__pycache__"}
        for path in sorted(self.location.rglob("*.py")):
            rel = path.relative_to(self.location)
            if any(part in skip for part in rel.parts[:-1]):
                continue
            try:
                yield str(rel), path.read_bytes()
            except OSError:
                yield str(rel), None


def parse_metadata(text: str) -> tuple[str, str, str, list[str]]:
    """(name, version, licence string, classifiers) from a METADATA / PKG-INFO text."""
    msg = email.parser.Parser().parsestr(text, headersonly=True)
    classifiers = [c for c in msg.get_all("Classifier", []) or [] if c.startswith("License ::")]
    lic = (msg.get("License-Expression") or "").strip()
    if not lic:
        raw = (msg.get("License") or "").strip()
        first = raw.splitlines()[0].strip() if raw else ""
        lic = first if len(first) <= 80 and _names_a_licence(first) else ""
    if not lic and classifiers:
        lic = " OR ".join(c.split("::")[-1].strip() for c in classifiers)
    return (msg.get("Name") or "").strip(), (msg.get("Version") or "").strip(), lic, classifiers


def _names_a_licence(text: str) -> bool:
    """True when `text` mentions a licence name (not just a copyright line or a file name)."""
    from training.data.filters import COPYLEFT, PERMISSIVE

    low = text.lower()
    return any(k in low for k in PERMISSIVE + COPYLEFT)


def wheel_distribution(path: Path) -> Distribution | None:
    """Read a wheel's METADATA (zip member), or None when the wheel is unreadable."""
    try:
        with zipfile.ZipFile(path) as zf:
            meta = next((n for n in zf.namelist() if n.endswith(".dist-info/METADATA")), None)
            if meta is None:
                log.warning("%s: wheel without METADATA", path)
                return None
            name, version, lic, classifiers = parse_metadata(zf.read(meta).decode("utf-8", "replace"))
    except (OSError, zipfile.BadZipFile) as exc:
        log.warning("%s: unreadable wheel (%s)", path, exc)
        return None
    return Distribution(name or path.name.split("-")[0], version, lic, classifiers, "wheel", path)


def dir_distribution(path: Path) -> Distribution:
    """A directory with a `METADATA` file (fixtures / local packages)."""
    meta = path / "METADATA"
    text = meta.read_text(encoding="utf-8") if meta.is_file() else ""
    name, version, lic, classifiers = parse_metadata(text)
    return Distribution(name or path.name, version or "0", lic, classifiers, "dir", path)


def stdlib_distribution(root: Path | None = None) -> Distribution:
    """The running interpreter's standard library (PSF-2.0), minus tests and site-packages."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    version = ".".join(map(str, sys.version_info[:3]))
    return Distribution("python-stdlib", version, "PSF-2.0", [], "stdlib", root)


def read_pins(path: Path = DISTRIBUTIONS_FILE) -> list[str]:
    """`name==version` lines of the pinned list (comments and blanks skipped)."""
    return [l.strip() for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")]


def download_wheels(pins: list[str], cache: Path) -> dict[str, str]:
    """`pip download --no-deps --only-binary :all:` each pin not yet in `cache`; name -> status."""
    from packaging.utils import canonicalize_name, parse_wheel_filename

    cache.mkdir(parents=True, exist_ok=True)
    have = set()
    for w in cache.glob("*.whl"):
        try:
            n, v, _, _ = parse_wheel_filename(w.name)
            have.add((canonicalize_name(n), str(v)))
        except ValueError:
            continue
    status: dict[str, str] = {}
    for pin in pins:
        name, _, version = pin.partition("==")
        if (canonicalize_name(name), version) in have:
            status[pin] = "cached"
            continue
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
               "-d", str(cache), pin]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        status[pin] = "downloaded" if proc.returncode == 0 else "failed"
        if proc.returncode:
            log.warning("pip download %s failed: %s", pin, proc.stderr.strip().splitlines()[-1:] )
    return status


def cached_wheels(pins: list[str], cache: Path) -> list[Path]:
    """The cache's wheel for each pin (missing ones skipped), in pin order."""
    from packaging.utils import canonicalize_name, parse_wheel_filename

    index: dict[tuple[str, str], Path] = {}
    for w in sorted(cache.glob("*.whl")):
        try:
            n, v, _, _ = parse_wheel_filename(w.name)
        except ValueError:
            continue
        index.setdefault((canonicalize_name(n), str(v)), w)
    out = []
    for pin in pins:
        name, _, version = pin.partition("==")
        w = index.get((canonicalize_name(name), version))
        if w is None:
            log.warning("%s: not in %s", pin, cache)
        else:
            out.append(w)
    return out
