"""Languages the server understands: file extensions, LSP language ids and tree-sitter parsers.

Parsers are created lazily (one per language per thread, since a tree-sitter `Parser` is not
thread-safe) so importing this module costs nothing.
"""
from __future__ import annotations

import threading
from pathlib import PurePath

import tree_sitter

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go",
    ".java": "java",
    ".rs": "rust",
}

LANGUAGE_IDS: dict[str, str] = {
    "python": "python", "javascript": "javascript", "javascriptreact": "javascript",
    "typescript": "typescript", "typescriptreact": "tsx", "go": "go", "java": "java",
    "rust": "rust",
}

# The comment leader for each language, used when a completion starts a comment.
LINE_COMMENT: dict[str, str] = {
    "python": "#", "javascript": "//", "typescript": "//", "tsx": "//", "go": "//",
    "java": "//", "rust": "//",
}

_local = threading.local()


def language_for_path(path: str | PurePath) -> str | None:
    """The language of a file by its extension, or None when we do not index it."""
    return EXTENSIONS.get(PurePath(path).suffix.lower())


def language_for(uri_or_path: str, language_id: str | None = None) -> str | None:
    """The language from an LSP `languageId` if we know it, else from the file extension."""
    if language_id and language_id in LANGUAGE_IDS:
        return LANGUAGE_IDS[language_id]
    return language_for_path(uri_or_path)


def _load_language(name: str) -> tree_sitter.Language:
    if name == "python":
        import tree_sitter_python as mod
        return tree_sitter.Language(mod.language())
    if name == "javascript":
        import tree_sitter_javascript as mod
        return tree_sitter.Language(mod.language())
    if name in ("typescript", "tsx"):
        import tree_sitter_typescript as mod
        return tree_sitter.Language(mod.language_tsx() if name == "tsx" else mod.language_typescript())
    if name == "go":
        import tree_sitter_go as mod
        return tree_sitter.Language(mod.language())
    if name == "java":
        import tree_sitter_java as mod
        return tree_sitter.Language(mod.language())
    if name == "rust":
        import tree_sitter_rust as mod
        return tree_sitter.Language(mod.language())
    raise ValueError(f"unsupported language {name!r}")


def parser_for(language: str) -> tree_sitter.Parser:
    """A tree-sitter parser for `language`, cached per thread."""
    cache: dict[str, tree_sitter.Parser] = getattr(_local, "parsers", None) or {}
    _local.parsers = cache
    if language not in cache:
        cache[language] = tree_sitter.Parser(_load_language(language))
    return cache[language]


def parse(language: str, source: bytes) -> tree_sitter.Tree:
    """Parse `source` (UTF-8 bytes) with the language's grammar."""
    return parser_for(language).parse(source)
