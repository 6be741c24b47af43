"""`python -m lsp_server ...` is the `codet5p-lsp` command."""
from lsp_server.cli import main

raise SystemExit(main())
