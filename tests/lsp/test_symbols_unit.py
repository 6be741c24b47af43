"""tree-sitter symbol extraction for the six languages (unit level, no server)."""
from __future__ import annotations

import pytest

from lsp_server.symbols import extract_symbols, symbol_at

CASES = {
    "python": ('@decorator\nclass Shelf(Base):\n    """A shelf."""\n\n    def count(self, kind: str) -> int:\n'
               '        """Count books."""\n        return 0\n\n\nasync def load(path):\n    return path\n',
               [("Shelf", "class", ""), ("count", "method", "Shelf"), ("load", "function", "")]),
    "javascript": ("/**\n * Adds.\n */\nexport function add(a, b) { return a + b; }\n"
                   "const mul = (a, b) => a * b;\nclass K { m(x) { return x; } }\n",
                   [("add", "function", ""), ("mul", "function", ""), ("K", "class", ""), ("m", "method", "K")]),
    "typescript": ("export interface P { greet(): void }\ntype Id = string;\nenum E { A }\n"
                   "export abstract class C<T> { go(x: number): number { return x } }\n",
                   [("P", "interface", ""), ("greet", "method", "P"), ("Id", "type", ""), ("E", "enum", ""),
                    ("C", "class", ""), ("go", "method", "C")]),
    "go": ("package main\n// Server serves.\ntype Server struct { x int }\n// Run runs.\n"
           "func (s *Server) Run(port int) error { return nil }\nfunc main() {}\n",
           [("Server", "struct", ""), ("Run", "method", "Server"), ("main", "function", "")]),
    "java": ("package a;\n/** A thing. */\npublic class Thing {\n  public Thing() {}\n  /** Get it. */\n"
             "  public int get(int a) { return a; }\n}\n",
             [("Thing", "class", ""), ("Thing", "constructor", "Thing"), ("get", "method", "Thing")]),
    "rust": ("/// Adds.\npub fn add(a: i32) -> i32 { a }\nstruct S;\nimpl S {\n    /// New one.\n"
             "    fn new() -> S { S }\n}\ntrait T { fn t(&self); }\n",
             [("add", "function", ""), ("S", "struct", ""), ("new", "method", "S"), ("T", "interface", ""),
              ("t", "method", "T")]),
}


@pytest.mark.parametrize("language", sorted(CASES))
def test_definitions_kinds_and_containers(language: str) -> None:
    source, expected = CASES[language]
    got = [(s.name, s.kind, s.container) for s in extract_symbols(source, language)]
    assert got == expected


def test_docstrings_signatures_and_ranges() -> None:
    py = {s.name: s for s in extract_symbols(CASES["python"][0], "python")}
    assert py["Shelf"].docstring == "A shelf." and py["Shelf"].start_line == 0  # decorator included
    assert py["count"].signature == "def count(self, kind: str) -> int" and py["count"].docstring == "Count books."
    assert (py["count"].name_line, py["count"].name_char, py["count"].name_end_char) == (4, 8, 13)
    js = {s.name: s for s in extract_symbols(CASES["javascript"][0], "javascript")}
    assert js["add"].docstring == "Adds." and js["add"].start_line == 3
    go = {s.name: s for s in extract_symbols(CASES["go"][0], "go")}
    assert go["Server"].docstring == "Server serves." and go["Run"].docstring == "Run runs."
    java = {(s.name, s.kind): s for s in extract_symbols(CASES["java"][0], "java")}
    assert java[("Thing", "class")].docstring == "A thing." and java[("get", "method")].docstring == "Get it."
    rust = {s.name: s for s in extract_symbols(CASES["rust"][0], "rust")}
    assert rust["add"].docstring == "Adds." and rust["new"].docstring == "New one."


def test_utf16_columns_and_symbol_at() -> None:
    src = "x = '😀'; def_ = 1\ndef café(ünï):\n    return 1\n"
    (sym,) = extract_symbols(src, "python")
    assert (sym.name, sym.name_char, sym.name_end_char) == ("café", 4, 8)
    assert symbol_at([sym], 2, 5) is sym and symbol_at([sym], 0, 0) is None
    assert sym.content_hash == extract_symbols(src, "python")[0].content_hash


def test_broken_code_still_yields_what_parses() -> None:
    syms = extract_symbols("def ok():\n    pass\n\ndef broken(:\n", "python")
    assert "ok" in [s.name for s in syms]
