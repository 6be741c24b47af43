"""Neovim 0.11 + the real server: `:CodeT5pSearch` natural-language search lands on the symbol.

The tiny model has random weights, so the query's content words (area, circle, radius; the
server drops stop words) occur only in `circle_area` (name, docstring, code): the lexical list has
that one hit, which reciprocal-rank fusion keeps first whatever the (random) embeddings rank.
Re-ranking by the (random) matching head is switched off.
"""
from __future__ import annotations


def test_search_by_description_jumps_to_symbol(run_nvim, editor, editor_workspace, tiny_bundle, tmp_path):
    options = editor.server_options(tiny_bundle, tmp_path / "cache", search={"rerank": False})
    run = run_nvim("search", editor_workspace, options, CODET5P_QUERY="area of a circle from the radius")
    r = run.check()
    assert r["prompt"] == "CodeT5+ search: area of a circle from the radius"
    assert r["items"][0] == "Function circle_area  geometry.py:5"
    assert len(r["items"]) >= 2  # the semantic side adds the other symbols, ranked below
    assert r["picked"] == "circle_area"
    assert r["file"] == "geometry.py"
    assert r["line"] == "def circle_area(radius):"
    assert r["cursor"][0] == 5
