"""Fixtures for the stress suite: the session's tiny bundle (tests/conftest.py), a decoy
directory outside every workspace, and server options pointing at a private cache."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the workspace that the server must never open or list."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret.py").write_text("def secret_function():\n    return 'do not read'\n")
    return d


def options(bundle: Path | None, cache: Path, **extra: dict) -> dict:
    opts = {"model": {"path": str(bundle) if bundle else "/nonexistent-bundle", "threads": 1},
            "index": {"cacheDir": str(cache)}, "completion": {"maxNewTokens": 8}}
    for key, value in extra.items():
        opts.setdefault(key, {}).update(value)
    return opts


@pytest.fixture
def stress_options():
    return options
