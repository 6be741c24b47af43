"""The Neovim plugin's own logic, in headless Neovim without a server: status text, search rows,
and what `setup()` registers (command, keys, the merged `vim.lsp.config`)."""
from __future__ import annotations


def test_plugin_units(run_nvim, editor_workspace):
    r = run_nvim("units", editor_workspace, {}, timeout_s=60).check()
    assert r["status"] == {
        "ready": "CodeT5+ ready", "loading": "CodeT5+ loading", "unloaded": "CodeT5+ loading",
        "indexing": "CodeT5+ indexing", "slow": "CodeT5+ slow", "missing": "CodeT5+ no model",
        "error": "CodeT5+ model error", "none": "CodeT5+ starting", "garbage": "CodeT5+ unknown",
    }
    assert r["rows"] == ["Function parse_config  src/config.py:10  (config)", "Class Loader  /elsewhere/loader.py"]
    assert r["rows_nil"] == 0
    assert r["command"] is True
    assert r["maps"] == ["<C-]>", "<Tab>"]
    lsp = r["lsp"]
    assert lsp["cmd"] == ["codet5p-lsp", "serve"]
    assert "python" in lsp["filetypes"] and "rust" in lsp["filetypes"]
    assert lsp["init_options"] == {"model": {"path": "/b"}}
    assert lsp["inline_capability"] is True
    assert lsp["status_handler"] is True
    assert r["statusline_unattached"] == ""
