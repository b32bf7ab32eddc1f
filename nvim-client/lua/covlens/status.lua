--- covlens.status: receives `covlens/runStatus` and turns it into a statusline string.

local M = {}

M.METHOD = 'covlens/runStatus'

--- Last run status per client, and the last one received from any client.
--- @type table<integer, table>
M.by_client = {}
--- @type table?
M.latest = nil

local function redraw()
  pcall(vim.cmd.redrawstatus)
end

--- The handler of `covlens/runStatus` (an |lsp-handler|).
function M.on_notification(err, params, ctx)
  if err or type(params) ~= 'table' then
    return
  end
  M.by_client[ctx.client_id] = params
  M.latest = params
  vim.api.nvim_exec_autocmds('User', { pattern = 'CovlensRunStatus', modeline = false, data = params })
  redraw()
end

--- The run status for `bufnr` (0: current): that of its covlens client, else the last one received.
--- @param bufnr? integer
--- @return table?
function M.get(bufnr)
  for _, client in ipairs(vim.lsp.get_clients({ name = 'covlens', bufnr = bufnr or 0 })) do
    if M.by_client[client.id] then
      return M.by_client[client.id]
    end
  end
  return M.latest
end

local STATES = {
  idle = 'idle',
  cancelled = 'cancelled',
  timeout = 'timed out',
  crashed = 'crashed',
  error = 'error',
}

--- "covlens 81.3% running 17/42", "covlens 83.3% 1 failed", "covlens 83.3% passed", "covlens –% idle";
--- "" before any status came.
--- @param status table?
--- @return string
function M.format(status)
  if not status then
    return ''
  end
  local percent = type(status.percent) == 'number' and ('%.1f%%'):format(status.percent) or '–%'
  local state
  if status.state == 'running' then
    state = type(status.total) == 'number' and ('running %d/%d'):format(status.done or 0, status.total) or 'running'
  elseif status.state == 'complete' then
    local counts = status.counts or {}
    local failed = (counts.failed or 0) + (counts.error or 0)
    state = failed > 0 and ('%d failed'):format(failed) or 'passed'
  else
    state = STATES[status.state] or tostring(status.state)
  end
  return ('covlens %s %s'):format(percent, state)
end

--- The statusline component: coverage % of the workspace and the run state.
--- @return string
function M.statusline()
  return M.format(M.get(0))
end

--- @param augroup integer
function M.setup(augroup)
  vim.api.nvim_create_autocmd('LspProgress', {
    group = augroup,
    desc = 'covlens: redraw the statusline as a run progresses',
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if client and client.name == 'covlens' then
        redraw()
      end
    end,
  })
end

return M
