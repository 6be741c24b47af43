--- Scenario without a server: the plugin's pure pieces (status line text, search rows, setup
--- side effects) on hand-made inputs.
local H = require('codet5p_test_harness')

H.run(function()
  local status = require('codet5p.status')
  local function st(model, index, slow)
    return { model = { state = model }, index = { state = index or 'idle' }, slow = slow or false }
  end
  H.result.status = {
    ready = status.describe(st('ready')),
    loading = status.describe(st('loading')),
    unloaded = status.describe(st('unloaded')),
    indexing = status.describe(st('ready', 'indexing')),
    slow = status.describe(st('ready', 'idle', true)),
    missing = status.describe(st('missing', 'indexing')),
    error = status.describe(st('error', 'idle', true)),
    none = status.describe(nil),
    garbage = status.describe({ model = 3, index = 'x' }),
  }

  local search = require('codet5p.search')
  local root = '/w/proj'
  local rows = search.items({
    { name = 'parse_config', kind = 12, containerName = 'config', location = { uri = 'file:///w/proj/src/config.py',
      range = { start = { line = 9, character = 4 }, ['end'] = { line = 12, character = 0 } } } },
    { name = 'Loader', kind = 5, location = { uri = 'file:///elsewhere/loader.py' } },
    { name = 7 },
    'junk',
  }, root)
  H.result.rows = vim.tbl_map(function(row)
    return row.label
  end, rows)
  H.result.rows_nil = #search.items(nil, root)

  -- setup(): the user command, the insert-mode keys, and the merged LSP config.
  require('codet5p').setup({ enable = false, init_options = { model = { path = '/b' } }, keys = { trigger = false } })
  H.result.command = vim.api.nvim_get_commands({})['CodeT5pSearch'] ~= nil
  local maps = {}
  for _, map in ipairs(vim.api.nvim_get_keymap('i')) do
    if map.desc == 'CodeT5+ ghost text' then
      maps[#maps + 1] = map.lhs
    end
  end
  table.sort(maps)
  H.result.maps = maps
  local config = vim.lsp.config.codet5p
  H.result.lsp = {
    cmd = config.cmd,
    filetypes = config.filetypes,
    init_options = config.init_options,
    inline_capability = config.capabilities and config.capabilities.textDocument
      and config.capabilities.textDocument.inlineCompletion ~= nil,
    status_handler = config.handlers and config.handlers['codet5p/status'] ~= nil,
  }
  H.result.statusline_unattached = require('codet5p').statusline()
end)
