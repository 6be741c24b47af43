"""Symbol extraction with tree-sitter for Python, JavaScript, TypeScript, Go, Java and Rust.

`extract_symbols(source, language)` returns every function, method, class, interface, struct,
enum, trait, type and module definition with its name, kind, container (dotted path of the
enclosing definitions), ranges (0-based lines, UTF-16 columns as LSP wants), signature, code and
docstring (Python docstring, JSDoc/Javadoc block, Go/Rust doc comments). Nothing is executed.
"""
from __future__ import annotations

import hashlib
import inspect
import re
from dataclasses import dataclass, field

import tree_sitter

from lsp_server.languages import _load_language, parse

MAX_CODE_CHARS = 4000

# One query per language; every capture is a definition node named @def.
_QUERIES: dict[str, str] = {
    "python": "(function_definition) @def (class_definition) @def",
    "javascript": """
        (function_declaration) @def (generator_function_declaration) @def
        (class_declaration) @def (method_definition) @def
        (variable_declarator name: (identifier) value: [(arrow_function) (function_expression)]) @def
    """,
    "typescript": """
        (function_declaration) @def (generator_function_declaration) @def
        (class_declaration) @def (abstract_class_declaration) @def (method_definition) @def
        (variable_declarator name: (identifier) value: [(arrow_function) (function_expression)]) @def
        (interface_declaration) @def (type_alias_declaration) @def (enum_declaration) @def
        (method_signature) @def (function_signature) @def (abstract_method_signature) @def
    """,
    "go": "(function_declaration) @def (method_declaration) @def (type_spec) @def",
    "java": """
        (class_declaration) @def (interface_declaration) @def (enum_declaration) @def
        (record_declaration) @def (method_declaration) @def (constructor_declaration) @def
    """,
    "rust": """
        (function_item) @def (function_signature_item) @def (struct_item) @def (enum_item) @def
        (trait_item) @def (impl_item) @def (mod_item) @def
    """,
}
_QUERIES["tsx"] = _QUERIES["typescript"]

_KINDS: dict[str, str] = {
    "function_definition": "function", "class_definition": "class",
    "function_declaration": "function", "generator_function_declaration": "function",
    "class_declaration": "class", "abstract_class_declaration": "class",
    "method_definition": "method", "variable_declarator": "function",
    "interface_declaration": "interface", "type_alias_declaration": "type",
    "enum_declaration": "enum", "method_signature": "method", "function_signature": "function",
    "abstract_method_signature": "method", "method_declaration": "method",
    "type_spec": "type", "record_declaration": "class", "constructor_declaration": "constructor",
    "function_item": "function", "function_signature_item": "function", "struct_item": "struct",
    "enum_item": "enum", "trait_item": "interface", "impl_item": "impl", "mod_item": "module",
}
_TYPE_KINDS = {"class", "interface", "struct", "enum", "impl", "type"}
_WRAPPERS = {"decorated_definition", "export_statement", "lexical_declaration",
             "variable_declaration", "type_declaration"}


@dataclass
class Symbol:
    """One definition found in a file."""

    name: str
    kind: str
    container: str
    language: str
    start_line: int
    start_char: int
    end_line: int
    end_char: int
    name_line: int
    name_char: int
    name_end_char: int
    signature: str
    code: str
    docstring: str = ""
    body_line: int = -1  # first line of the body (Python docstring insertion point), -1 if none
    extra: dict = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.container}.{self.name}" if self.container else self.name

    @property
    def content_hash(self) -> str:
        """Hash of what the embedding and summaries depend on."""
        text = "\x00".join((self.language, self.kind, self.qualified_name, self.code))
        return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class _Lines:
    """Byte-column to UTF-16-column conversion for one source."""

    def __init__(self, source: bytes) -> None:
        self.lines = source.split(b"\n")

    def utf16(self, row: int, byte_col: int) -> int:
        if row >= len(self.lines):
            return 0
        prefix = self.lines[row][:byte_col].decode("utf-8", "replace")
        return len(prefix.encode("utf-16-le")) // 2


_query_cache: dict[str, tuple[tree_sitter.Language, tree_sitter.Query]] = {}


def _query(language: str) -> tree_sitter.Query:
    if language not in _query_cache:
        lang = _load_language(language)
        _query_cache[language] = (lang, tree_sitter.Query(lang, _QUERIES[language]))
    return _query_cache[language][1]


def _text(node: tree_sitter.Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text else ""


def _name_node(node: tree_sitter.Node) -> tree_sitter.Node | None:
    if node.type == "impl_item":
        return node.child_by_field_name("type")
    return node.child_by_field_name("name")


def _go_receiver_type(node: tree_sitter.Node) -> str:
    receiver = node.child_by_field_name("receiver")
    if receiver is None:
        return ""
    match = re.search(r"\*?\s*([A-Za-z_]\w*)\s*(\[.*\])?\)\s*$", _text(receiver))
    return match.group(1) if match else ""


def _kind(node: tree_sitter.Node, in_type: bool) -> str:
    kind = _KINDS.get(node.type, "function")
    if node.type == "type_spec":
        inner = node.child_by_field_name("type")
        kind = {"struct_type": "struct", "interface_type": "interface"}.get(inner.type if inner else "", "type")
    if kind == "function" and in_type and node.type in ("function_definition", "function_item",
                                                         "function_signature_item"):
        kind = "method"
    return kind


def _outer(node: tree_sitter.Node) -> tree_sitter.Node:
    """The node including decorators / `export` / `const x =` wrappers."""
    while node.parent is not None and node.parent.type in _WRAPPERS:
        node = node.parent
    return node


def _clean_comment(text: str) -> str:
    text = text.strip()
    if text.startswith("/**"):
        text = text[3:]
        text = text[:-2] if text.endswith("*/") else text
        lines = [re.sub(r"^\s*\*\s?", "", line) for line in text.splitlines()]
        return inspect.cleandoc("\n".join(lines))
    lines = [re.sub(r"^\s*(///?!?|//)\s?", "", line) for line in text.splitlines()]
    return "\n".join(lines).strip()


def _preceding_doc(node: tree_sitter.Node, language: str) -> str:
    """JSDoc / Javadoc block, or contiguous `//` / `///` lines directly above the definition."""
    comments: list[str] = []
    prev = node.prev_named_sibling
    expected_row = node.start_point.row
    while prev is not None and "comment" in prev.type and prev.end_point.row >= expected_row - 1:
        text = _text(prev)
        if language in ("javascript", "typescript", "tsx", "java"):
            if text.startswith("/**"):
                comments.insert(0, text)
            break
        if language == "rust" and not text.startswith("///"):
            break
        comments.insert(0, text)
        expected_row = prev.start_point.row
        prev = prev.prev_named_sibling
    return "\n".join(_clean_comment(c) for c in comments).strip()


def _python_doc(node: tree_sitter.Node) -> str:
    body = node.child_by_field_name("body")
    if body is None or body.named_child_count == 0:
        return ""
    first = body.named_children[0]
    if first.type != "expression_statement" or first.named_child_count == 0:
        return ""
    string = first.named_children[0]
    if string.type != "string":
        return ""
    content = "".join(_text(c) for c in string.named_children if c.type == "string_content")
    return inspect.cleandoc(content)


def _signature(node: tree_sitter.Node, source: bytes) -> str:
    body = _body(node)
    end = body.start_byte if body is not None else node.end_byte
    head = source[node.start_byte:end].decode("utf-8", "replace")
    head = re.sub(r"\s+", " ", head).strip()
    head = re.sub(r"(\s*(\{|:|=>|=))+$", "", head)
    if node.type == "type_spec":
        head = "type " + head
    return head[:240]


def _body(node: tree_sitter.Node) -> tree_sitter.Node | None:
    if node.type == "variable_declarator":
        value = node.child_by_field_name("value")
        return value.child_by_field_name("body") if value is not None else None
    return node.child_by_field_name("body")


def extract_symbols(source: str | bytes, language: str) -> list[Symbol]:
    """All definitions in `source`, in document order. Raises ValueError for an unknown language."""
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    tree = parse(language, data)
    captures = tree_sitter.QueryCursor(_query(language)).captures(tree.root_node)
    nodes = sorted(captures.get("def", []), key=lambda n: (n.start_byte, -n.end_byte))
    lines = _Lines(data)
    names: dict[int, tuple[str, str]] = {}  # node id -> (name, kind)
    symbols: list[Symbol] = []
    for node in nodes:
        name_node = _name_node(node)
        name = _text(name_node)
        if not name:
            continue
        chain: list[str] = []
        in_type = False
        parent = node.parent
        while parent is not None:
            if parent.id in names:
                pname, pkind = names[parent.id]
                chain.insert(0, pname)
                in_type = in_type or (pkind in _TYPE_KINDS and not chain[1:])
            parent = parent.parent
        if node.type == "method_declaration" and language == "go":
            receiver = _go_receiver_type(node)
            if receiver:
                chain = [receiver]
        kind = _kind(node, in_type)
        names[node.id] = (name, kind)
        if kind == "impl":
            continue  # a container only; the type itself is the symbol
        outer = _outer(node)
        doc = _python_doc(node) if language == "python" else _preceding_doc(outer, language)
        code_bytes = data[outer.start_byte:outer.end_byte]
        body = _body(node)
        sp, ep, np_ = outer.start_point, outer.end_point, name_node.start_point
        symbols.append(Symbol(
            name=name, kind=kind, container=".".join(chain), language=language,
            start_line=sp.row, start_char=lines.utf16(sp.row, sp.column),
            end_line=ep.row, end_char=lines.utf16(ep.row, ep.column),
            name_line=np_.row, name_char=lines.utf16(np_.row, np_.column),
            name_end_char=lines.utf16(name_node.end_point.row, name_node.end_point.column),
            signature=_signature(node, data),
            code=code_bytes[:MAX_CODE_CHARS].decode("utf-8", "replace"),
            docstring=doc[:2000],
            body_line=body.start_point.row if body is not None else -1,
        ))
    return symbols


def symbol_at(symbols: list[Symbol], line: int, char: int) -> Symbol | None:
    """The innermost symbol whose range contains the position."""
    best: Symbol | None = None
    for sym in symbols:
        after_start = (line, char) >= (sym.start_line, sym.start_char)
        before_end = (line, char) <= (sym.end_line, sym.end_char)
        if after_start and before_end:
            if best is None or (sym.start_line, sym.start_char) >= (best.start_line, best.start_char):
                best = sym
    return best
