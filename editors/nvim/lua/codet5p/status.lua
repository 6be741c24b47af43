--- The server's `codet5p/status` notification: kept per client, shown by
--- `require('codet5p').statusline()`, and announced with the `User CodeT5pStatus` autocmd.
local M = {}

--- client_id -> the last status table the server sent.
M.by_client = {}

--- The handler for `codet5p/status` (a notification: no reply).
function M.handler(_, params, ctx)
  if type(params) ~= 'table' then
    return
  end
  M.by_client[ctx.client_id] = params
  vim.api.nvim_exec_autocmds('User', { pattern = 'CodeT5pStatus', modeline = false, data = { client_id = ctx.client_id, status = params } })
end

--- One short line for a status table: "CodeT5+ ready", "CodeT5+ indexing", "CodeT5+ no model", ...
function M.describe(status)
  if type(status) ~= 'table' then
    return 'CodeT5+ starting'
  end
  local model = type(status.model) == 'table' and status.model or {}
  local index = type(status.index) == 'table' and status.index or {}
  if model.state == 'error' then
    return 'CodeT5+ model error'
  elseif model.state == 'missing' then
    return 'CodeT5+ no model'
  elseif model.state == 'loading' or model.state == 'unloaded' then
    return 'CodeT5+ loading'
  elseif index.state == 'indexing' then
    return 'CodeT5+ indexing'
  elseif status.slow == true then
    return 'CodeT5+ slow'
  elseif model.state == 'ready' then
    return 'CodeT5+ ready'
  end
  return 'CodeT5+ ' .. (type(model.state) == 'string' and model.state or 'unknown')
end

return M
