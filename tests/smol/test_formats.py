"""Smol prompts: the summary prompt restates the signature; healing cuts the trailing blank."""
from __future__ import annotations

from pathlib import Path

from model.pysource import strip_docstring
from model.smol.formats import (SUMMARY_CUE, SUMMARY_RESTATE, TokenizerPair, first_sentence_of_summary,
                                heal_prompt, signature_and_indent, summary_prompt_ids)


def test_signature_and_body_indent() -> None:
    code = "def f(a,\n      b):\n\tif a:\n\t\treturn b\n"
    assert signature_and_indent(code) == ("def f(a,\n      b):", "\t")
    assert signature_and_indent("def g():\n    return 1") == ("def g():", "    ")
    assert signature_and_indent("function greet(name) {\n  return name;\n}") is None


def test_summary_prompt_keeps_the_beginning_and_ends_at_a_docstring(smol_model_dir: Path) -> None:
    pair = TokenizerPair.from_files(smol_model_dir / "encoder_tokenizer.json", smol_model_dir / "decoder_tokenizer.json")
    code = "def add(a, b):\n    return a + b\n" + "    # filler line\n" * 200
    ids = summary_prompt_ids(pair, code, 64)
    text = pair.dec_decode(ids)
    assert len(ids) <= 64
    assert text.startswith("def add(a, b):") and text.endswith(SUMMARY_RESTATE + 'def add(a, b):\n    """')
    js = pair.dec_decode(summary_prompt_ids(pair, "function f() { return 1; }", 64))
    assert js.endswith(SUMMARY_CUE)


def test_healing_and_summary_cleanup() -> None:
    assert heal_prompt("x = 1\n    ") == ("x = 1", "\n    ")
    assert heal_prompt("foo(") == ("foo(", "")
    assert first_sentence_of_summary('Return the sum.\nMore."""') == "Return the sum."
    assert first_sentence_of_summary('  Add two   numbers"""  trailing') == "Add two numbers"


def test_summaries_see_dedented_code_without_its_docstring() -> None:
    method = '    def f(self):\n        """Old doc."""\n        return 1\n'
    assert strip_docstring(method) == "def f(self):\n    return 1\n"


def test_node_text_of_a_method_is_dedented_like_its_file() -> None:
    from model.pysource import reindent_first_line

    node_text = 'def f(self):\n        """Doc."""\n        return 1'
    assert strip_docstring(node_text) == "def f(self):\n    return 1"
    assert reindent_first_line("def g():\n    return 2") == "def g():\n    return 2"
    assert reindent_first_line("x = 1") == "x = 1"
