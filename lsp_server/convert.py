"""Conversions from engine results to lsprotocol types (and URIs to paths)."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp

from lsp_server.docstring import Insertion
from lsp_server.search import SearchHit

SYMBOL_KINDS: dict[str, lsp.SymbolKind] = {
    "function": lsp.SymbolKind.Function, "method": lsp.SymbolKind.Method,
    "class": lsp.SymbolKind.Class, "interface": lsp.SymbolKind.Interface,
    "struct": lsp.SymbolKind.Struct, "enum": lsp.SymbolKind.Enum,
    "type": lsp.SymbolKind.TypeParameter, "module": lsp.SymbolKind.Module,
    "constructor": lsp.SymbolKind.Constructor,
}


def uri_to_path(uri: str) -> Path | None:
    """The filesystem path of a `file:` URI, or None for other schemes."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


def path_to_uri(path: Path) -> str:
    return path.resolve().as_uri()


def hit_to_symbol(root: Path, hit: SearchHit) -> lsp.WorkspaceSymbol:
    row = hit.row
    rng = lsp.Range(lsp.Position(row["name_line"], row["name_char"]),
                    lsp.Position(row["name_line"], row["name_end_char"]))
    return lsp.WorkspaceSymbol(
        name=row["name"], kind=SYMBOL_KINDS.get(row["kind"], lsp.SymbolKind.Function),
        location=lsp.Location(uri=path_to_uri(root / row["path"]), range=rng),
        container_name=row["container"] or None)


def insertion_edit(uri: str, ins: Insertion) -> lsp.WorkspaceEdit:
    pos = lsp.Position(ins.line, ins.character)
    return lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(lsp.Range(pos, pos), ins.text)]})
