"""codet5p-lsp: a local CodeT5+ language server (inline completion, hover summaries, search).

`lsp_server.server` holds the LSP handlers, `lsp_server.engine` the feature logic shared with the
`codet5p-lsp` CLI (`lsp_server.cli`). Never imports torch, transformers or optimum.
"""
__version__ = "0.1.0"
