--- CodeT5+ for Neovim: the editor side of `codet5p-lsp`.
---
---   require('codet5p').setup({ init_options = { model = { path = '/path/to/bundle' } } })
---
--- `setup()` configures and enables the `codet5p` LSP config (lsp/codet5p.lua), shows inline
--- completions as ghost text (Neovim 0.12's built-in client when present, else our extmarks),
--- maps accept/dismiss keys, adds `:CodeT5pSearch {query}` and tracks `codet5p/status`.
--- Hover is the standard `K`, the "Generate docstring" action the standard code-action menu (`gra`).
local M = {}

local ghost = require('codet5p.ghost')
local search = require('codet5p.search')
local status = require('codet5p.status')

M.defaults = {
  --- Passed to vim.lsp.config('codet5p', ...): cmd, init_options (server options), settings, ...
  lsp = {},
  --- Shorthand for lsp.init_options (server options: model, completion, hover, index, search, log).
  init_options = nil,
  --- Call vim.lsp.enable('codet5p') (set false to enable it yourself).
  enable = true,
  --- Ghost text: 'auto' (0.12 built-in client when present, else extmarks), 'extmarks', or false.
  inline = 'auto',
  debounce_ms = 150,
  hl_group = 'Comment',
  keys = { accept = '<Tab>', dismiss = '<C-]>', trigger = '<M-\\>' },
}

M.config = vim.deepcopy(M.defaults)

--- True when Neovim has a built-in inline completion client (0.12+).
function M.has_native_inline()
  return vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.enable ~= nil
end

local function use_native()
  return M.config.inline == 'auto' and M.has_native_inline()
end

--- The codet5p client attached to `bufnr` (default: current), or nil.
function M.client(bufnr)
  return vim.lsp.get_clients({ bufnr = bufnr or 0, name = 'codet5p' })[1]
end

--- Accept the ghost text; returns false when there is none (the key then does its usual job).
function M.accept()
  if use_native() then
    return vim.lsp.inline_completion.get() == true
  end
  return ghost.accept()
end

function M.dismiss()
  return ghost.dismiss()
end

--- Ask for a suggestion now (without waiting for typing).
function M.trigger()
  local client = M.client()
  if client and not use_native() then
    ghost.request(vim.api.nvim_get_current_buf(), client, false)
  end
end

--- `:CodeT5pSearch` as a function; `on_done(row|nil, err|nil)` runs after the choice.
function M.search(query, on_done)
  local client = M.client() or vim.lsp.get_clients({ name = 'codet5p' })[1]
  if not client then
    vim.notify('CodeT5pSearch: the codet5p language server is not running', vim.log.levels.ERROR)
    if on_done then
      on_done(nil, 'no client')
    end
    return
  end
  search.search(client, query, on_done)
end

--- A short status for statuslines: "CodeT5+ ready", "CodeT5+ indexing", ... ('' when not attached).
function M.statusline(bufnr)
  local client = M.client(bufnr)
  if not client then
    return ''
  end
  return status.describe(status.by_client[client.id])
end

local function map_key(lhs, fn)
  if not lhs or lhs == '' then
    return
  end
  vim.keymap.set('i', lhs, function()
    if not fn() then
      vim.api.nvim_feedkeys(vim.keycode(lhs), 'n', false)
    end
  end, { desc = 'CodeT5+ ghost text' })
end

local function on_attach(args)
  local client = vim.lsp.get_client_by_id(args.data.client_id)
  if not client or client.name ~= 'codet5p' or M.config.inline == false then
    return
  end
  if use_native() then
    vim.lsp.inline_completion.enable(true, { bufnr = args.buf })
  else
    ghost.attach(args.buf, client)
  end
end

function M.setup(opts)
  if vim.fn.has('nvim-0.11') == 0 then
    vim.notify('codet5p: Neovim 0.11 or newer is required (vim.lsp.config)', vim.log.levels.ERROR)
    return
  end
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  local cfg = M.config
  ghost.configure({ debounce_ms = cfg.debounce_ms, hl_group = cfg.hl_group })

  local lsp = vim.deepcopy(cfg.lsp)
  if cfg.init_options then
    lsp.init_options = vim.tbl_deep_extend('force', lsp.init_options or {}, cfg.init_options)
  end
  lsp.handlers = vim.tbl_extend('force', lsp.handlers or {}, { ['codet5p/status'] = status.handler })
  if not use_native() and cfg.inline ~= false then
    -- Tell the server we show ghost text, so it answers inlineCompletion rather than completion.
    lsp.capabilities = vim.tbl_deep_extend('force', lsp.capabilities or {},
      { textDocument = { inlineCompletion = { dynamicRegistration = false } } })
  end
  vim.lsp.config('codet5p', lsp)

  local group = vim.api.nvim_create_augroup('codet5p', { clear = true })
  vim.api.nvim_create_autocmd('LspAttach', { group = group, callback = on_attach })
  vim.api.nvim_create_autocmd('LspDetach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == 'codet5p' and not use_native() then
        ghost.detach(args.buf)
      end
    end,
  })

  map_key(cfg.keys.accept, M.accept)
  map_key(cfg.keys.dismiss, M.dismiss)
  map_key(cfg.keys.trigger, function()
    M.trigger()
    return true
  end)

  vim.api.nvim_create_user_command('CodeT5pSearch', function(cmd)
    M.search(cmd.args)
  end, { nargs = '+', desc = 'CodeT5+: search code by description' })

  if cfg.enable then
    vim.lsp.enable('codet5p')
  end
end

return M
