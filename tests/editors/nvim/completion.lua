--- Scenario: type at the end of geometry.py, see the inline completion as an extmark, accept it
--- with the accept key (<Tab>), then check the buffer; then dismiss a second suggestion.
local H = require('codet5p_test_harness')
local ghost = require('codet5p.ghost')

H.run(function()
  H.setup()
  H.open_indexed('geometry.py')
  local buf = vim.api.nvim_get_current_buf()
  H.result.capabilities = { inline = H.client().server_capabilities.inlineCompletionProvider ~= nil }
  -- An indented new last line, then type "print" at its end like a user.
  vim.api.nvim_buf_set_lines(buf, -1, -1, false, { '    ' })
  vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(buf), 4 })
  local typed_at = vim.uv.hrtime()
  H.type('Aprint')
  local shown = H.wait('ghost text after typing', function()
    return ghost.current(buf)
  end)
  -- Keys typed -> ghost text drawn (includes the 50 ms debounce used here).
  H.result.ghost_latency_ms = (vim.uv.hrtime() - typed_at) / 1e6
  local marks = vim.api.nvim_buf_get_extmarks(buf, ghost.ns, 0, -1, { details = true })
  H.result.extmarks = vim.tbl_map(function(m)
    local virt = {}
    for _, chunk in ipairs(m[4].virt_text or {}) do
      virt[#virt + 1] = chunk[1]
    end
    return { row = m[2], col = m[3], text = table.concat(virt), virt_lines = #(m[4].virt_lines or {}) }
  end, marks)
  H.result.ghost = { text = shown.text, row = shown.row, col = shown.col }
  H.result.mode_before_accept = vim.api.nvim_get_mode().mode
  H.result.line_before_accept = vim.api.nvim_get_current_line()

  H.type('<Tab>')
  H.wait('the suggestion to be inserted', function()
    return vim.api.nvim_get_current_line() ~= H.result.line_before_accept
  end)
  H.result.line_after_accept = vim.api.nvim_get_current_line()
  H.result.cursor_after_accept = vim.api.nvim_win_get_cursor(0)
  H.result.ghost_after_accept = ghost.current(buf) and ghost.current(buf).text or vim.NIL
  H.result.mode_after_accept = vim.api.nvim_get_mode().mode

  -- Dismiss: ask again explicitly on the same text and dismiss with <C-]>.
  vim.api.nvim_buf_set_lines(buf, -2, -1, false, { '    print' })
  H.type('<Esc>A')
  H.wait('insert mode', function()
    return vim.api.nvim_get_mode().mode == 'i'
  end)
  require('codet5p').trigger()
  H.wait('ghost text on explicit trigger', function()
    return ghost.current(buf)
  end)
  H.type('<C-]>')
  H.wait('the ghost text to be dismissed', function()
    return ghost.current(buf) == nil
  end)
  H.result.extmarks_after_dismiss = #vim.api.nvim_buf_get_extmarks(buf, ghost.ns, 0, -1, {})
  H.result.line_after_dismiss = vim.api.nvim_get_current_line()
end)
