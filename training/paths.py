"""Default locations outside git: the download cache, corpora and runs (`~/.cache/codet5p-lsp`)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """`$CODET5P_CACHE`, else the platform user cache dir for codet5p-lsp."""
    env = os.environ.get("CODET5P_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("codet5p-lsp"))


def wheel_cache() -> Path:
    return cache_root() / "wheels"


def runs_root() -> Path:
    return cache_root() / "runs"
