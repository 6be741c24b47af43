-- CodeT5+ language server (codet5p-lsp) for Neovim 0.11+ `vim.lsp.config`.
--
--   vim.lsp.config('codet5p', { init_options = { model = { path = '/path/to/bundle' } } })
--   vim.lsp.enable('codet5p')
--
-- `init_options` are the server options (see the README: model, completion, hover, index,
-- search, log). A non-empty `settings = { codet5p = {...} }` is sent right after start as
-- `workspace/didChangeConfiguration` and REPLACES the options, so give it all of them or none.
-- Ghost text, :CodeT5pSearch and the status come from `require('codet5p').setup()`.
return {
  cmd = { 'codet5p-lsp', 'serve' },
  filetypes = {
    'python',
    'javascript',
    'javascriptreact',
    'typescript',
    'typescriptreact',
    'go',
    'java',
    'rust',
  },
  root_markers = { '.git', 'pyproject.toml', 'setup.py', 'package.json', 'go.mod', 'Cargo.toml', 'pom.xml' },
  init_options = {},
}
