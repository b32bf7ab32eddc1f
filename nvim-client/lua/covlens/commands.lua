--- covlens.commands: the :Covlens* commands, each a `workspace/executeCommand` of docs/protocol.md or a local action.

local signs = require('covlens.signs')

local M = {}

local function notify(message, level)
  vim.notify('covlens: ' .. message, level or vim.log.levels.INFO)
end

--- The covlens client of `bufnr`, else any running covlens client.
--- @param bufnr integer
--- @return vim.lsp.Client?
function M.client(bufnr)
  return vim.lsp.get_clients({ name = 'covlens', bufnr = bufnr })[1] or vim.lsp.get_clients({ name = 'covlens' })[1]
end

--- Runs a server command and calls `on_result` with its result; says what went wrong otherwise.
--- @param command string
--- @param arguments any[]?
--- @param on_result? fun(result: any)
function M.execute(command, arguments, on_result)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    notify(
      'no covlens server is running: open a Python file inside a project (a directory with pyproject.toml or .git), '
        .. 'and see :checkhealth vim.lsp if it does not start',
      vim.log.levels.WARN
    )
    return
  end
  client:request('workspace/executeCommand', { command = command, arguments = arguments }, function(err, result)
    if err then
      notify(('%s failed: %s'):format(command, err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif on_result then
      on_result(result)
    end
  end, bufnr)
end

--- The file URI of the current buffer, or nil (with a message) when it has no file.
--- @return string?
local function current_uri(what)
  local name = vim.api.nvim_buf_get_name(0)
  if name == '' or vim.bo.buftype ~= '' then
    notify(what .. ' needs a buffer with a file', vim.log.levels.WARN)
    return nil
  end
  return vim.uri_from_fname(vim.fn.fnamemodify(name, ':p'))
end

function M.run()
  M.execute('covlens.runAll', nil)
end

function M.run_file()
  local uri = current_uri(':CovlensRunFile')
  if uri then
    M.execute('covlens.runFile', { uri })
  end
end

function M.cancel()
  M.execute('covlens.cancel', nil, function(result)
    if not (result and result.cancelled) then
      notify('no run to cancel')
    end
  end)
end

--- Shows the decision of a module (a name, or the current buffer's file) in a floating window.
--- @param target? string a module name; empty or nil: the current file
function M.explain(target)
  local arg = target ~= nil and target ~= '' and target or current_uri(':CovlensExplain without a module name')
  if not arg then
    return
  end
  M.execute('covlens.explain', { arg }, function(result)
    if type(result) ~= 'table' or type(result.explanation) ~= 'string' then
      notify('the server sent no explanation for ' .. arg, vim.log.levels.WARN)
      return
    end
    local decision = type(result.decision) == 'table' and result.decision or {}
    local title = ' covlens: ' .. (decision.module or arg) .. ' '
    vim.lsp.util.open_floating_preview(vim.split(result.explanation, '\n'), 'markdown', {
      border = vim.o.winborder ~= '' and vim.o.winborder or 'rounded',
      title = title,
      focus_id = 'covlens.explain',
    })
  end)
end

M.EXPORTS = { lcov = 'covlens.exportLcov', json = 'covlens.exportJson' }

--- Writes the coverage of the last run as LCOV or JSON.
--- @param format? string 'lcov' (default) or 'json'
--- @param path? string default: the server's (.covlens/lcov.info, .covlens/coverage.json)
function M.export(format, path)
  format = format ~= nil and format ~= '' and format or 'lcov'
  local command = M.EXPORTS[format]
  if not command then
    notify(('unknown export format `%s`: use lcov or json'):format(format), vim.log.levels.ERROR)
    return
  end
  local arguments = path and path ~= '' and { vim.fn.fnamemodify(path, ':p') } or nil
  M.execute(command, arguments, function(result)
    notify('wrote ' .. (result and result.path or '?'))
  end)
end

function M.toggle()
  signs.set_visible(not signs.is_visible())
end

function M.setup()
  local create = vim.api.nvim_create_user_command
  create('CovlensRun', M.run, { desc = 'covlens: run all tests' })
  create('CovlensRunFile', M.run_file, { desc = 'covlens: run the tests of this file (or that ran it)' })
  create('CovlensCancel', M.cancel, { desc = 'covlens: cancel the running tests' })
  create('CovlensExplain', function(cmd)
    M.explain(cmd.args)
  end, { nargs = '?', desc = 'covlens: why this module was (not) measured' })
  create('CovlensToggle', M.toggle, { desc = 'covlens: hide or show the coverage signs' })
  create('CovlensExport', function(cmd)
    M.export(cmd.fargs[1], cmd.fargs[2])
  end, {
    nargs = '*',
    complete = function(arglead, cmdline)
      if #vim.split(cmdline, '%s+') <= 2 then -- the format
        return vim.tbl_filter(function(format)
          return vim.startswith(format, arglead)
        end, vim.tbl_keys(M.EXPORTS))
      end
      return vim.fn.getcompletion(arglead, 'file')
    end,
    desc = 'covlens: write the coverage as lcov (default) or json',
  })
end

return M
