--- `:CodeT5pSearch {query}`: natural-language code search over the server's `workspace/symbol`
--- (ranked best first), picked with `vim.ui.select` and jumped to with `vim.lsp.util.show_document`.
local M = {}

local KIND_NAMES = vim.lsp.protocol.SymbolKind

--- Pick rows for a `workspace/symbol` result: { symbol, label } in the server's order.
function M.items(result, root)
  local rows = {}
  for _, sym in ipairs(type(result) == 'table' and result or {}) do
    if type(sym) == 'table' and type(sym.name) == 'string' and type(sym.location) == 'table'
      and type(sym.location.uri) == 'string' then
      local file = vim.uri_to_fname(sym.location.uri)
      if root and file:sub(1, #root + 1) == root .. '/' then
        file = file:sub(#root + 2)
      end
      local line = sym.location.range and (':' .. (sym.location.range.start.line + 1)) or ''
      local kind = KIND_NAMES[sym.kind] or 'Symbol'
      local container = sym.containerName and sym.containerName ~= '' and ('  (' .. sym.containerName .. ')') or ''
      rows[#rows + 1] = { symbol = sym, label = string.format('%s %s  %s%s%s', kind, sym.name, file, line, container) }
    end
  end
  return rows
end

--- Jump to a symbol's location.
function M.jump(symbol, client)
  local loc = symbol.location
  if not loc.range then
    loc = { uri = loc.uri, range = { start = { line = 0, character = 0 }, ['end'] = { line = 0, character = 0 } } }
  end
  vim.lsp.util.show_document(loc, client.offset_encoding, { focus = true })
end

--- Search `query` with `client`; `on_done(row|nil, err|nil)` is called after the choice.
function M.search(client, query, on_done)
  on_done = on_done or function() end
  if not query or vim.trim(query) == '' then
    vim.notify('CodeT5pSearch: describe the code to find, e.g. :CodeT5pSearch parse a config file', vim.log.levels.WARN)
    return on_done(nil, 'empty query')
  end
  client:request('workspace/symbol', { query = query }, function(err, result)
    if err then
      vim.notify('CodeT5pSearch: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return on_done(nil, err.message or 'error')
    end
    local rows = M.items(result, client.root_dir)
    if #rows == 0 then
      vim.notify(string.format('CodeT5pSearch: no code found for "%s"', query), vim.log.levels.INFO)
      return on_done(nil, 'no results')
    end
    vim.ui.select(rows, {
      prompt = 'CodeT5+ search: ' .. query,
      kind = 'codet5p.search',
      format_item = function(row)
        return row.label
      end,
    }, function(row)
      if row then
        M.jump(row.symbol, client)
      end
      on_done(row, nil)
    end)
  end)
end

return M
