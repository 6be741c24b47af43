"""Neovim 0.11 + the real server: inline completion as ghost text (extmarks), accept, dismiss."""
from __future__ import annotations


def test_ghost_text_accept_and_dismiss(run_nvim, editor, editor_workspace, completing_bundle, tmp_path):
    # A generous deadline: a loaded CI machine must not turn the suggestion into "too late".
    options = editor.server_options(completing_bundle, tmp_path / "cache", completion={"deadlineMs": 20000})
    run = run_nvim("completion", editor_workspace, options)
    r = run.check()
    typed, completion = editor.typed, editor.completion
    assert r["capabilities"]["inline"] is True
    # The ghost text is an extmark at the cursor showing the server's suggestion.
    assert r["line_before_accept"] == typed
    assert r["mode_before_accept"] == "i"
    row = r["ghost"]["row"]
    assert r["ghost"] == {"text": completion, "row": row, "col": len(typed)}
    assert r["extmarks"] == [{"row": row, "col": len(typed), "text": completion, "virt_lines": 0}]
    # <Tab> inserts it and leaves the cursor after it, still in insert mode.
    assert r["line_after_accept"] == typed + completion
    assert r["cursor_after_accept"] == [row + 1, len(typed + completion)]
    assert r["mode_after_accept"] == "i"
    assert r["ghost_after_accept"] != completion
    # <C-]> removes the ghost text and leaves the buffer alone.
    assert r["extmarks_after_dismiss"] == 0
    assert r["line_after_dismiss"] == typed
