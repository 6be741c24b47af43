--- Ghost text for LSP 3.18 `textDocument/inlineCompletion` on Neovim 0.11 (which has no
--- inline-completion client): debounced requests while typing in insert mode, the first
--- suggestion drawn with extmarks (inline virtual text + virtual lines), accept / dismiss.
--- Stale answers (the buffer changed or the cursor moved) are dropped, the previous request is
--- cancelled, and nothing is requested right after a deletion.
local M = {}

local api = vim.api
local METHOD = 'textDocument/inlineCompletion'
local TRIGGER_INVOKED, TRIGGER_AUTOMATIC = 1, 2

M.ns = api.nvim_create_namespace('codet5p_ghost')

--- Per buffer: { timer, client_id, request_id, tick, line_len, item }
--- where item = { row, col, text, lines, replace = {sr, sc, er, ec}, insert, command, client_id }.
local buffers = {}

local config = { debounce_ms = 150, hl_group = 'Comment' }

function M.configure(opts)
  config = vim.tbl_extend('force', config, opts or {})
end

local function buf_state(bufnr)
  local st = buffers[bufnr]
  if not st then
    st = {}
    buffers[bufnr] = st
  end
  return st
end

--- Byte column of an LSP position on `row` (0-based) of `bufnr`.
local function byte_col(bufnr, row, character, encoding)
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  return ok and col or #line
end

local function cancel_request(st)
  if st.request_id and st.client_id then
    local client = vim.lsp.get_client_by_id(st.client_id)
    if client then
      client:cancel_request(st.request_id)
    end
  end
  st.request_id = nil
end

local function stop_timer(st)
  if st.timer then
    st.timer:stop()
    st.timer:close()
    st.timer = nil
  end
end

--- Remove the ghost text of `bufnr` (default: current) and forget its suggestion.
function M.clear(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local st = buffers[bufnr]
  if st then
    st.item = nil
  end
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

--- Dismiss: clear the ghost text and cancel what is pending. Returns true when something was shown.
function M.dismiss(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local st = buf_state(bufnr)
  local shown = st.item ~= nil
  stop_timer(st)
  cancel_request(st)
  M.clear(bufnr)
  return shown
end

--- The suggestion currently shown in `bufnr`, or nil.
function M.current(bufnr)
  local st = buffers[bufnr or api.nvim_get_current_buf()]
  return st and st.item
end

--- The text of an item (plain string or a snippet's value).
local function insert_text(item)
  local text = item.insertText
  if type(text) == 'table' then
    text = text.value
  end
  return type(text) == 'string' and text or nil
end

--- Turn the first usable item into what to draw at the cursor (row, col in bytes), or nil.
local function to_ghost(bufnr, client, item, row, col)
  local text = insert_text(item)
  if not text or text == '' then
    return nil
  end
  local enc = client.offset_encoding
  local sr, sc, er, ec = row, col, row, col
  if type(item.range) == 'table' then
    sr = item.range.start.line
    er = item.range['end'].line
    sc = byte_col(bufnr, sr, item.range.start.character, enc)
    ec = byte_col(bufnr, er, item.range['end'].character, enc)
  end
  if sr ~= row or sc > col or er < row or (er == row and ec < col) then
    return nil -- the range does not contain the cursor: cannot be shown as ghost text
  end
  local typed = api.nvim_buf_get_text(bufnr, sr, sc, row, col, {})[1] or ''
  if text:sub(1, #typed) ~= typed then
    return nil -- the suggestion does not continue what is typed
  end
  local ghost = text:sub(#typed + 1)
  if ghost == '' then
    return nil
  end
  return {
    row = row,
    col = col,
    text = ghost,
    lines = vim.split(ghost, '\n', { plain = true }),
    insert = text,
    replace = { sr, sc, er, ec },
    command = item.command,
    client_id = client.id,
  }
end

local function render(bufnr, ghost)
  api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  local hl = config.hl_group
  local virt_lines = {}
  for i = 2, #ghost.lines do
    virt_lines[#virt_lines + 1] = { { ghost.lines[i], hl } }
  end
  local opts = {
    virt_text = { { ghost.lines[1], hl } },
    virt_text_pos = 'inline',
    hl_mode = 'combine',
    right_gravity = false,
  }
  if #virt_lines > 0 then
    opts.virt_lines = virt_lines
  end
  api.nvim_buf_set_extmark(bufnr, M.ns, ghost.row, ghost.col, opts)
end

local function cursor()
  local pos = api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

--- Ask `client` for a suggestion at the cursor now (automatic = typed, else invoked by a key).
function M.request(bufnr, client, automatic)
  local st = buf_state(bufnr)
  cancel_request(st)
  local row, col = cursor()
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = automatic and TRIGGER_AUTOMATIC or TRIGGER_INVOKED }
  local ok, id
  ok, id = client:request(METHOD, params, function(err, result)
    if st.request_id ~= id then
      return -- superseded
    end
    st.request_id = nil
    if err or not result or not api.nvim_buf_is_valid(bufnr) then
      return
    end
    local r2, c2 = cursor()
    if api.nvim_get_current_buf() ~= bufnr or api.nvim_buf_get_changedtick(bufnr) ~= tick or r2 ~= row or c2 ~= col then
      return -- stale: the user kept typing or moved
    end
    local items = result.items or result
    for _, item in ipairs(type(items) == 'table' and items or {}) do
      local ghost = to_ghost(bufnr, client, item, row, col)
      if ghost then
        st.item = ghost
        render(bufnr, ghost)
        api.nvim_exec_autocmds('User', { pattern = 'CodeT5pGhostShown', modeline = false, data = { bufnr = bufnr } })
        return
      end
    end
  end, bufnr)
  if ok then
    st.request_id, st.client_id = id, client.id
  end
end

--- Accept the shown suggestion: insert it and put the cursor after it. False when none is shown.
function M.accept(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local st = buf_state(bufnr)
  local ghost = st.item
  if not ghost then
    return false
  end
  M.dismiss(bufnr)
  local sr, sc, er, ec = unpack(ghost.replace)
  local lines = vim.split(ghost.insert, '\n', { plain = true })
  api.nvim_buf_set_text(bufnr, sr, sc, er, ec, lines)
  local last_row = sr + #lines - 1
  local last_col = (#lines == 1 and sc or 0) + #lines[#lines]
  api.nvim_win_set_cursor(0, { last_row + 1, last_col })
  if ghost.command then
    local client = vim.lsp.get_client_by_id(ghost.client_id)
    if client then
      client:exec_cmd(ghost.command, { bufnr = bufnr })
    end
  end
  return true
end

--- Start watching `bufnr` for `client`: debounce typing, clear on leave/move.
function M.attach(bufnr, client)
  local group = api.nvim_create_augroup('codet5p_ghost_' .. bufnr, { clear = true })
  local st = buf_state(bufnr)
  st.line_len = nil
  api.nvim_create_autocmd({ 'TextChangedI', 'TextChangedP' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.clear(bufnr)
      stop_timer(st)
      cancel_request(st)
      local row = cursor()
      local len = #(api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or '')
      local deleted = st.line_len ~= nil and st.line_row == row and len < st.line_len
      st.line_row, st.line_len = row, len
      if deleted then
        return -- never suggest right after a deletion
      end
      st.timer = vim.uv.new_timer()
      st.timer:start(config.debounce_ms, 0, vim.schedule_wrap(function()
        stop_timer(st)
        if api.nvim_get_current_buf() == bufnr and api.nvim_get_mode().mode:sub(1, 1) == 'i' then
          M.request(bufnr, client, true)
        end
      end))
    end,
  })
  api.nvim_create_autocmd('CursorMovedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      local ghost = st.item
      if ghost then
        local row, col = cursor()
        if row ~= ghost.row or col ~= ghost.col then
          M.clear(bufnr)
        end
      end
    end,
  })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      st.line_len = nil
      M.dismiss(bufnr)
    end,
  })
  api.nvim_create_autocmd('InsertEnter', {
    group = group,
    buffer = bufnr,
    callback = function()
      local row = cursor()
      st.line_row, st.line_len = row, #(api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or '')
    end,
  })
end

--- Stop watching `bufnr`.
function M.detach(bufnr)
  M.dismiss(bufnr)
  pcall(api.nvim_del_augroup_by_name, 'codet5p_ghost_' .. bufnr)
  buffers[bufnr] = nil
end

return M
