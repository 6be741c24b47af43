"""LSP positions in UTF-16 code units, lone surrogates included (an editor can send them)."""
from __future__ import annotations

import pytest

from lsp_server.textdoc import PositionError, offset_at, utf16_len


def test_astral_characters_count_two_units() -> None:
    assert utf16_len("a\U0001F600b") == 4
    assert offset_at("a\U0001F600b\nx", 0, 3) == 2  # past the emoji: the string index of "b"


def test_lone_surrogates_count_one_unit_and_never_raise() -> None:
    text = "\ud800x\n\udfff"
    assert utf16_len(text) == 4
    assert offset_at(text, 0, 1) == 1 and offset_at(text, 1, 1) == 4
    with pytest.raises(PositionError):
        offset_at(text, 0, 3)
