--- Test harness for headless Neovim scenarios (driven by tests/editors/*.py).
---
--- A scenario is a function run in a coroutine: it types with `nvim_input` (processed by Neovim's
--- main loop exactly like a user's keys), then `H.wait`s for a condition that events make true
--- (the LSP attached, a status notification, an extmark, a floating window). Nothing sleeps for a
--- fixed time; every wait is bounded by the scenario deadline. The outcome is written as JSON to
--- $CODET5P_RESULT and Neovim quits (exit code 0; the Python side reads the file).
local H = { result = {}, statuses = {}, waiting = 'start' }

local env = vim.env
local result_path = assert(env.CODET5P_RESULT, 'CODET5P_RESULT is not set')
local finished = false
local resume

function H.finish(ok, err)
  if finished then
    return
  end
  finished = true
  local payload = { ok = ok, error = err, result = H.result, statuses = H.statuses, notifications = H.notifications }
  local ok_json, text = pcall(vim.json.encode, payload)
  if not ok_json then
    text = vim.json.encode({ ok = false, error = 'cannot encode result: ' .. tostring(text) })
  end
  vim.fn.writefile({ text }, result_path)
  vim.cmd('qall!')
end

--- Yield until `cond()` is true (checked whenever the event loop is idle, every 10 ms at most).
function H.wait(what, cond)
  H.waiting = what
  local done = false
  local timer = assert(vim.uv.new_timer())
  timer:start(0, 10, function()
    vim.schedule(function()
      if done or finished then
        return
      end
      local ok, value = pcall(cond)
      if not ok then
        done = true
        timer:stop()
        timer:close()
        H.finish(false, 'while waiting for ' .. what .. ': ' .. tostring(value))
      elseif value then
        done = true
        timer:stop()
        timer:close()
        resume(value)
      end
    end)
  end)
  return coroutine.yield()
end

--- Type keys as a user would (insert-mode autocmds fire, mappings apply).
function H.type(keys)
  vim.api.nvim_input(vim.keycode(keys))
end

function H.client()
  return vim.lsp.get_clients({ bufnr = 0, name = 'codet5p' })[1]
end

--- Set up the plugin against the real server (command, options and root from the environment).
function H.setup(extra)
  H.notifications = {}
  vim.notify = function(msg, level)
    H.notifications[#H.notifications + 1] = { msg = tostring(msg), level = level }
  end
  local cmd = vim.json.decode((assert(env.CODET5P_CMD, 'CODET5P_CMD is not set')))
  local options = vim.json.decode(env.CODET5P_OPTIONS or '{}')
  local root = assert(env.CODET5P_ROOT, 'CODET5P_ROOT is not set')
  vim.api.nvim_create_autocmd('User', {
    pattern = 'CodeT5pStatus',
    callback = function(args)
      H.statuses[#H.statuses + 1] = args.data.status
    end,
  })
  require('codet5p').setup(vim.tbl_deep_extend('force', {
    lsp = { cmd = cmd, root_dir = root },
    init_options = options,
    debounce_ms = 50,
  }, extra or {}))
end

--- Open a workspace file and wait until the server is attached and has indexed the workspace.
function H.open_indexed(rel)
  vim.cmd.edit(vim.fs.joinpath(env.CODET5P_ROOT, rel))
  H.wait('the codet5p client to attach', function()
    return H.client() ~= nil and H.client().initialized
  end)
  return H.wait('the first full index (codet5p/status index idle with symbols)', function()
    local status = require('codet5p.status').by_client[H.client().id]
    return status and status.index and status.index.state == 'idle' and (status.index.symbols or 0) > 0
      and status.model and status.model.state ~= 'loading' and status.model.state ~= 'unloaded'
      and status
  end)
end

--- The floating windows open in the current tab.
function H.floats()
  local wins = {}
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then
      wins[#wins + 1] = win
    end
  end
  return wins
end

--- Load and start a scenario file; any error (even at load time) is reported, never left hanging.
function H.main(path)
  local ok, err = xpcall(dofile, debug.traceback, path)
  if not ok then
    H.finish(false, 'scenario ' .. path .. ' failed to load: ' .. tostring(err))
  end
end

--- Run `scenario` in a coroutine with a deadline ($CODET5P_TIMEOUT_MS).
function H.run(scenario)
  local co = coroutine.create(function()
    scenario()
    H.finish(true)
  end)
  resume = function(...)
    local ok, err = coroutine.resume(co, ...)
    if not ok then
      H.finish(false, debug.traceback(co, tostring(err)))
    end
  end
  local timeout = tonumber(env.CODET5P_TIMEOUT_MS or '60000')
  vim.defer_fn(function()
    H.finish(false, string.format('timed out after %d ms waiting for %s', timeout, H.waiting))
  end, timeout)
  vim.schedule(resume)
end

return H
