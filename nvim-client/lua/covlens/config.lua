--- covlens.config: the plugin's defaults, the user's options over them, and the server configuration they make.

local M = {}

--- @class covlens.Signs
--- @field enabled boolean  signs shown at start (`:CovlensToggle` flips it)
--- @field priority integer sign priority; below diagnostics (10) so an error sign wins a shared column
--- @field covered string   sign text of a line that ran (1 or 2 cells)
--- @field missed string    sign text of a line no test ran
--- @field partial string   sign text of a line with a branch never taken

--- @class covlens.Options
--- @field cmd? string[]          the server command; default `covlens serve` if on PATH, else `python3 -m covlens serve`
--- @field filetypes string[]     buffers the server attaches to
--- @field root_markers string[]  a project is the nearest directory holding one of these
--- @field settings table         server settings of docs/protocol.md (autoRun, pytestArgs, missedLinesAsHints, ...)
--- @field autostart boolean      enable the server for matching buffers (false: call `vim.lsp.enable('covlens')` yourself)
--- @field signs covlens.Signs

--- @type covlens.Options
M.defaults = {
  cmd = nil,
  filetypes = { 'python' },
  root_markers = { 'pyproject.toml', '.git' },
  settings = {},
  autostart = true,
  signs = {
    enabled = true,
    priority = 8,
    covered = '▎',
    missed = '✗',
    partial = '◐',
  },
}

--- The server command when the user gave none.
--- @return string[]
function M.default_cmd()
  local exe = vim.fn.exepath('covlens')
  if exe ~= '' then
    return { exe, 'serve' }
  end
  return { 'python3', '-m', 'covlens', 'serve' }
end

--- The defaults with `opts` on top, checked; a wrong option is an error that names it.
--- @param opts? table
--- @return covlens.Options
function M.resolve(opts)
  opts = opts or {}
  vim.validate('opts', opts, 'table')
  local known = vim.tbl_extend('keep', { cmd = true }, M.defaults)
  for key in pairs(opts) do
    if known[key] == nil then
      error(('covlens.setup: unknown option `%s`; known: %s'):format(key, table.concat(vim.fn.sort(vim.tbl_keys(known)), ', ')), 0)
    end
  end
  local o = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  vim.validate('cmd', o.cmd, 'table', true)
  vim.validate('filetypes', o.filetypes, 'table')
  vim.validate('root_markers', o.root_markers, 'table')
  vim.validate('settings', o.settings, 'table')
  vim.validate('autostart', o.autostart, 'boolean')
  vim.validate('signs', o.signs, 'table')
  vim.validate('signs.priority', o.signs.priority, 'number')
  for _, kind in ipairs({ 'covered', 'missed', 'partial' }) do
    vim.validate('signs.' .. kind, o.signs[kind], 'string')
  end
  -- Lists replace the defaults rather than merge with them index by index.
  o.filetypes = opts.filetypes or M.defaults.filetypes
  o.root_markers = opts.root_markers or M.defaults.root_markers
  o.cmd = opts.cmd or M.default_cmd()
  return o
end

--- The settings object as sent on the wire: an empty table must stay a JSON object, not become `[]`.
--- @param settings table
--- @return table
local function wire_settings(settings)
  if next(settings) == nil then
    return vim.empty_dict()
  end
  return settings
end

--- The `vim.lsp.config('covlens', ...)` table for these options (without the plugin's handlers).
--- The server starts only for buffers inside a project (a directory with one of the root markers).
--- @param o covlens.Options
--- @return vim.lsp.Config
function M.server(o)
  local markers = o.root_markers
  return {
    cmd = o.cmd,
    filetypes = o.filetypes,
    root_markers = markers,
    root_dir = function(bufnr, on_dir)
      local root = vim.fs.root(bufnr, markers)
      if root then
        on_dir(root)
      end
    end,
    settings = { covlens = wire_settings(o.settings) },
    init_options = wire_settings(o.settings),
  }
end

return M
