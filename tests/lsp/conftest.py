"""Fixtures for the end-to-end server tests: a real `codet5p-lsp serve` subprocess driven by the
pytest-lsp client over stdio, pointed at the session's tiny bundle through
`initializationOptions.model.path`, with its index cache under the test's tmp directory.

Every test module runs on the session event loop (`pytestmark` in each file) so module-scoped
servers can be shared by the tests of one file.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.lsp_session import (EXAMPLE, capabilities, server_options, start_session,
                                       stop_session)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the example workspace (tests may edit it)."""
    root = tmp_path_factory.mktemp("ws") / "workspace"
    shutil.copytree(EXAMPLE, root)
    return root


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def session(workspace: Path, tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server on the workspace copy with the tiny bundle, fully indexed."""
    s = await start_session(workspace, server_options(tiny_bundle, tmp_path_factory.mktemp("cache")))
    await s.wait_indexed()
    yield s
    await stop_session(s)


class Helpers:
    """Helper functions handed to tests (conftest modules are not importable by name)."""

    capabilities = staticmethod(capabilities)
    server_options = staticmethod(server_options)
    start_session = staticmethod(start_session)
    stop_session = staticmethod(stop_session)
    example = EXAMPLE


@pytest.fixture(scope="session")
def lsp_helpers() -> Helpers:
    return Helpers()
