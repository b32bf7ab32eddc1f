--- covlens: live test coverage for Python in Neovim's built-in LSP client. See `:help covlens`.

local config = require('covlens.config')
local coverage = require('covlens.coverage')
local status = require('covlens.status')
local signs = require('covlens.signs')
local commands = require('covlens.commands')
local highlights = require('covlens.highlights')

local M = {}

--- The namespace of the coverage signs.
M.ns = signs.ns

--- The options in effect after |covlens.setup()|.
--- @type covlens.Options?
M.options = nil

--- Configures the `covlens` language server (with the plugin's handlers), enables it for Python buffers in a
--- project, and defines the highlight groups, autocommands and :Covlens* commands. Safe to call again.
--- @param opts? covlens.Options
function M.setup(opts)
  local o = config.resolve(opts)
  M.options = o
  signs.configure(o.signs)
  local group = vim.api.nvim_create_augroup('covlens', { clear = true })
  highlights.setup(group)
  coverage.setup(group)
  status.setup(group)
  commands.setup()

  local server = config.server(o)
  server.handlers = {
    [coverage.METHOD] = coverage.on_notification,
    [status.METHOD] = status.on_notification,
  }
  vim.lsp.config('covlens', server)
  if o.autostart then
    vim.lsp.enable('covlens')
  end
end

M.statusline = status.statusline
M.run = commands.run
M.run_file = commands.run_file
M.cancel = commands.cancel
M.explain = commands.explain
M.export = commands.export
M.toggle = commands.toggle

--- The last run status (the `covlens/runStatus` params) for `bufnr` (default: current), or nil.
--- @param bufnr? integer
--- @return table?
function M.status(bufnr)
  return status.get(bufnr)
end

--- The last `covlens/fileCoverage` params for `bufnr`'s file (default: current), or nil.
--- @param bufnr? integer
--- @return table?
function M.file_coverage(bufnr)
  return coverage.get(bufnr or vim.api.nvim_get_current_buf())
end

return M
