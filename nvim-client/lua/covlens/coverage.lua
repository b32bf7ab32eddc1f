--- covlens.coverage: receives `covlens/fileCoverage`, keeps the last notification per file, and draws it in its buffer.

local signs = require('covlens.signs')

local M = {}

M.METHOD = 'covlens/fileCoverage'

--- Last accepted notification per file (normalized real path), drawn again when its buffer is (re)loaded.
--- @type table<string, table>
M.by_file = {}

local function normalize(path)
  return vim.fs.normalize(vim.uv.fs_realpath(path) or path)
end

--- @param uri string
--- @return string?
local function key_of_uri(uri)
  local ok, fname = pcall(vim.uri_to_fname, uri)
  return ok and normalize(fname) or nil
end

local buf_keys = {} --- @type table<integer, {name: string, key: string}>

--- @param bufnr integer
--- @return string?
local function key_of_buf(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' or vim.bo[bufnr].buftype ~= '' then
    return nil
  end
  local cached = buf_keys[bufnr]
  if not cached or cached.name ~= name then
    cached = { name = name, key = normalize(vim.fn.fnamemodify(name, ':p')) }
    buf_keys[bufnr] = cached
  end
  return cached.key
end

--- @param key string
--- @return integer?
local function loaded_buffer(key)
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and key_of_buf(bufnr) == key then
      return bufnr
    end
  end
end

--- The protocol's version rule: lines for an older version of the document than the buffer's are dropped,
--- unless they are marked stale; a notification without a version (the file was not open) always applies.
--- @param params table
--- @param bufnr integer
--- @return boolean
function M.applies(params, bufnr)
  if params.stale == true or type(params.version) ~= 'number' then
    return true
  end
  return params.version >= vim.lsp.util.buf_versions[bufnr]
end

--- The handler of `covlens/fileCoverage` (an |lsp-handler|).
function M.on_notification(err, params, _ctx)
  if err or type(params) ~= 'table' or type(params.uri) ~= 'string' then
    return
  end
  local key = key_of_uri(params.uri)
  if not key then
    return
  end
  local bufnr = loaded_buffer(key)
  if bufnr and not M.applies(params, bufnr) then
    return
  end
  M.by_file[key] = params
  if bufnr then
    signs.draw(bufnr, params)
  end
  vim.api.nvim_exec_autocmds('User', {
    pattern = 'CovlensFileCoverage',
    modeline = false,
    data = { uri = params.uri, bufnr = bufnr, stale = params.stale == true, summary = params.summary },
  })
end

--- Draws the stored coverage of `bufnr` if its marks are not drawn yet (a buffer opened or reloaded after the
--- notification came). Marks already drawn are left alone: they have followed the edits since.
--- @param bufnr integer
function M.refresh(bufnr)
  if signs.is_drawn(bufnr) or not vim.api.nvim_buf_is_loaded(bufnr) then
    return
  end
  local key = key_of_buf(bufnr)
  local params = key and M.by_file[key]
  if params and M.applies(params, bufnr) then
    signs.draw(bufnr, params)
  end
end

--- The last notification for `bufnr`'s file, if any.
--- @param bufnr integer
--- @return table?
function M.get(bufnr)
  local key = key_of_buf(bufnr)
  return key and M.by_file[key] or nil
end

--- @param augroup integer
function M.setup(augroup)
  vim.api.nvim_create_autocmd({ 'BufEnter', 'BufWinEnter' }, {
    group = augroup,
    desc = 'covlens: draw the last coverage of a file when its buffer is entered',
    callback = function(ev)
      M.refresh(ev.buf)
    end,
  })
  vim.api.nvim_create_autocmd('BufReadPost', {
    group = augroup,
    desc = 'covlens: a reloaded buffer lost its marks; draw them again',
    callback = function(ev)
      signs.forget(ev.buf)
      M.refresh(ev.buf)
    end,
  })
  vim.api.nvim_create_autocmd({ 'BufUnload', 'BufWipeout' }, {
    group = augroup,
    desc = 'covlens: forget the marks of an unloaded buffer',
    callback = function(ev)
      signs.forget(ev.buf)
      buf_keys[ev.buf] = nil
    end,
  })
end

return M
