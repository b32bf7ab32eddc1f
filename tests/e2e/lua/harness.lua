-- Helpers for the e2e scenarios: wait on conditions, observe signs and diagnostics, record results, end cleanly.
-- A scenario runs inside H.run(); whatever it records is written as JSON to $COVLENS_E2E_OUT, with the error
-- (and its traceback) if it failed. Lines are reported 1-based, as a person reads the file.

local H = {}

H.project = vim.env.COVLENS_E2E_PROJECT
H.results = {}

local WAIT_MS = tonumber(vim.env.COVLENS_E2E_WAIT_MS) or 60000
-- How long a server may take to exit after shutdown/exit before it is killed.
local STOP_MS = 10000

--- Waits until `condition()` is true; an error naming `what` (and the last `observe()`) when it is not in time.
function H.wait(what, condition, timeout_ms, observe)
  timeout_ms = timeout_ms or WAIT_MS
  if not vim.wait(timeout_ms, condition, 10) then
    local seen = observe and ('; last seen: ' .. vim.inspect(observe())) or ''
    error(('timed out after %d ms waiting for %s%s'):format(timeout_ms, what, seen), 2)
  end
end

function H.record(name, value)
  H.results[name] = value
end

function H.path(relative)
  return H.project .. '/' .. relative
end

--- Edits a file of the fixture project and returns its buffer.
function H.open(relative)
  vim.cmd.edit(vim.fn.fnameescape(H.path(relative)))
  return vim.api.nvim_get_current_buf()
end

--- Waits for the covlens client to be attached to `bufnr` and initialized; returns it.
function H.client(bufnr)
  local client
  H.wait('the covlens server to attach to buffer ' .. bufnr, function()
    client = vim.lsp.get_clients({ name = 'covlens', bufnr = bufnr })[1]
    return client ~= nil and client.initialized == true
  end)
  return client
end

local KIND_OF_GROUP = {
  CovlensCovered = 'covered',
  CovlensMissed = 'missed',
  CovlensPartial = 'partial',
  CovlensCoveredStale = 'covered',
  CovlensMissedStale = 'missed',
  CovlensPartialStale = 'partial',
}

--- The coverage marks of `bufnr` as they would be drawn: lines per kind, whether any is stale, the sign texts
--- and groups seen, and how many marks exist without a sign (hidden).
function H.signs(bufnr)
  local seen = { covered = {}, missed = {}, partial = {}, stale = false, hidden = 0, texts = {}, groups = {} }
  local ns = vim.api.nvim_get_namespaces()['covlens.coverage']
  if not ns then
    return seen
  end
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })) do
    local row, details = m[2], m[4]
    if not details.invalid then
      if details.sign_text then
        local kind = KIND_OF_GROUP[details.sign_hl_group] or ('unknown group ' .. tostring(details.sign_hl_group))
        seen[kind] = seen[kind] or {}
        table.insert(seen[kind], row + 1)
        seen.texts[kind] = vim.trim(details.sign_text)
        seen.groups[details.sign_hl_group] = true
        seen.stale = seen.stale or details.sign_hl_group:match('Stale$') ~= nil
      else
        seen.hidden = seen.hidden + 1
      end
    end
  end
  for _, kind in ipairs({ 'covered', 'missed', 'partial' }) do
    table.sort(seen[kind])
  end
  seen.groups = vim.tbl_keys(seen.groups)
  table.sort(seen.groups)
  return seen
end

--- Number of visible signs of `bufnr`.
function H.sign_count(bufnr)
  local s = H.signs(bufnr)
  return #s.covered + #s.missed + #s.partial
end

--- The diagnostics of `bufnr`, sorted by line: line (1-based), severity name, code, message, source.
function H.diagnostics(bufnr)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(out, {
      line = d.lnum + 1,
      severity = vim.diagnostic.severity[d.severity],
      code = d.code,
      message = d.message,
      source = d.source,
    })
  end
  table.sort(out, function(a, b)
    if a.line ~= b.line then
      return a.line < b.line
    end
    return tostring(a.code) < tostring(b.code)
  end)
  return out
end

--- Diagnostics of `bufnr` whose code is `code`.
function H.with_code(bufnr, code)
  return vim.tbl_filter(function(d)
    return d.code == code
  end, H.diagnostics(bufnr))
end

--- Work-done progress of the covlens server seen so far: how many runs began and ended.
H.progress = { begin = 0, ['end'] = 0 }
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(ev)
    local kind = ev.data and ev.data.params and ev.data.params.value and ev.data.params.value.kind
    if H.progress[kind] then
      H.progress[kind] = H.progress[kind] + 1
    end
  end,
})

--- Stops every LSP client and waits until no client and no child process of this Neovim is left. A client
--- whose start was still scheduled (an :edit just before the end) starts during the wait: it is stopped too.
local function stop_servers()
  local pid = vim.fn.getpid()
  local function settled()
    local clients = vim.lsp.get_clients({ _uninitialized = true })
    for _, client in ipairs(clients) do
      if not client:is_stopped() then
        client:stop()
      end
    end
    return #clients == 0 and #vim.api.nvim_get_proc_children(pid) == 0
  end
  local started = vim.uv.hrtime()
  if not vim.wait(STOP_MS, settled, 20) then
    -- The server ignored shutdown/exit: the test fails on this (the children are killed so nothing is left).
    H.record('stop_forced', vim.api.nvim_get_proc_children(pid))
    for _, client in ipairs(vim.lsp.get_clients({ _uninitialized = true })) do
      client:stop(true)
    end
    vim.wait(5000, settled, 20)
  end
  H.record('stop_ms', (vim.uv.hrtime() - started) / 1e6)
  H.record('children_left_after_stop', vim.api.nvim_get_proc_children(pid))
end

--- Runs `scenario`, then stops the servers, writes the results and quits (exit code 1 if the scenario failed).
function H.run(scenario)
  local ok, err = xpcall(scenario, debug.traceback)
  if not ok then
    H.record('error', tostring(err))
  end
  local stopped, stop_err = pcall(stop_servers)
  if not stopped then
    H.record('stop_error', tostring(stop_err))
  end
  H.record('messages', vim.api.nvim_exec2('messages', { output = true }).output)
  local file = assert(io.open(vim.env.COVLENS_E2E_OUT, 'w'))
  file:write(vim.json.encode(H.results))
  file:close()
  vim.cmd(ok and 'qall!' or 'cquit! 1')
end

return H
