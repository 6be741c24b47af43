--- Scenario: `:CodeT5pSearch <description>` lists the server's ranked `workspace/symbol` hits in
--- `vim.ui.select` (replaced here by a recorder that picks the first item) and jumps to it.
local H = require('codet5p_test_harness')

H.run(function()
  H.setup()
  H.result.indexed = H.open_indexed('textio.py')
  local picked
  vim.ui.select = function(items, opts, on_choice)
    H.result.prompt = opts.prompt
    H.result.items = vim.tbl_map(function(item)
      return opts.format_item(item)
    end, items)
    picked = items[1]
    on_choice(items[1], 1)
  end
  H.type(':CodeT5pSearch ' .. vim.env.CODET5P_QUERY .. '<CR>')
  H.wait('the search to jump to a symbol', function()
    return picked ~= nil and vim.api.nvim_buf_get_name(0):match('geometry%.py$') ~= nil
  end)
  H.result.file = vim.fs.basename(vim.api.nvim_buf_get_name(0))
  H.result.cursor = vim.api.nvim_win_get_cursor(0)
  H.result.line = vim.api.nvim_get_current_line()
  H.result.picked = picked.symbol.name
end)
