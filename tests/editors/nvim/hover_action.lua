--- Scenario: attach, the status notification, hover through the standard `K` (a floating
--- window with the server's card) and the code-action menu through the standard `gra`.
local H = require('codet5p_test_harness')

H.run(function()
  H.setup()
  local status = H.open_indexed('geometry.py')
  local client = H.client()
  H.result.attached = { name = client.name, root = client.root_dir }
  H.result.status = status
  H.result.statusline = require('codet5p').statusline()
  -- Hover: the cursor on the call `add(1, 2)` inside main(), then K.
  local row = vim.fn.search('total = add(', 'w')
  vim.api.nvim_win_set_cursor(0, { row, (vim.api.nvim_get_current_line():find('add', 1, true)) })
  H.type('K')
  local win = H.wait('the hover window', function()
    return H.floats()[1]
  end)
  H.result.hover = vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false)
  vim.api.nvim_win_close(win, true)

  -- Code action through the standard menu (`gra` -> vim.ui.select, answered here like a user
  -- picking "Generate docstring") on the undocumented `def main():`.
  local menu
  vim.ui.select = function(items, opts, on_choice)
    menu = vim.tbl_map(function(item)
      return opts.format_item and opts.format_item(item) or tostring(item)
    end, items)
    for i, title in ipairs(menu) do
      if title == 'Generate docstring' then
        return on_choice(items[i], i)
      end
    end
    on_choice(nil)
  end
  local def_row = vim.fn.search('def main', 'w')
  vim.api.nvim_win_set_cursor(0, { def_row, 4 })
  local lines_before = vim.api.nvim_buf_line_count(0)
  H.type('gra')
  H.wait('the docstring edit', function()
    if #H.notifications > 0 and not menu then
      error('no menu: ' .. H.notifications[#H.notifications].msg)
    end
    return menu and vim.api.nvim_buf_line_count(0) > lines_before
  end)
  H.result.actions = menu
  H.result.after_def = vim.api.nvim_buf_get_lines(0, def_row, def_row + 1, false)[1]
  H.result.def_line = vim.api.nvim_buf_get_lines(0, def_row - 1, def_row, false)[1]
end)
