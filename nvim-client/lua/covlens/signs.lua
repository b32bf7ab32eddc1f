--- covlens.signs: draws a file's coverage as sign-column extmarks that follow edits, and hides or shows them.

local highlights = require('covlens.highlights')

local M = {}

M.ns = vim.api.nvim_create_namespace('covlens.coverage')

--- Kinds in drawing order: a line listed under two kinds gets the later one (a partial line is also covered).
M.KINDS = { 'covered', 'missed', 'partial' }

local opts = require('covlens.config').defaults.signs
local visible = opts.enabled

--- What is drawn in each buffer: extmark id → kind, and whether the lines are stale.
--- @type table<integer, {kinds: table<integer, string>, stale: boolean, params: table}>
local drawn = {}

--- @param signs covlens.Signs
function M.configure(signs)
  opts = signs
  visible = signs.enabled
end

local function mark(kind, stale, id)
  local m = { id = id, invalidate = true, undo_restore = true, priority = opts.priority }
  if visible then
    m.sign_text = opts[kind]
    m.sign_hl_group = highlights.group(kind, stale)
  end
  return m
end

--- Replaces the marks of `bufnr` with the lines of a `covlens/fileCoverage` notification (0-based lines;
--- lines past the end of the buffer are left out).
--- @param bufnr integer
--- @param params table
function M.draw(bufnr, params)
  vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  local last = vim.api.nvim_buf_line_count(bufnr) - 1
  local kind_of = {} --- @type table<integer, string>
  for _, kind in ipairs(M.KINDS) do
    for _, line in ipairs(params[kind] or {}) do
      if type(line) == 'number' and line >= 0 and line <= last then
        kind_of[line] = kind
      end
    end
  end
  local stale = params.stale == true
  local kinds = {}
  for line, kind in pairs(kind_of) do
    kinds[vim.api.nvim_buf_set_extmark(bufnr, M.ns, line, 0, mark(kind, stale))] = kind
  end
  drawn[bufnr] = { kinds = kinds, stale = stale, params = params }
end

--- Removes the marks of `bufnr` and forgets them.
--- @param bufnr integer
function M.forget(bufnr)
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
  drawn[bufnr] = nil
end

--- @param bufnr integer
--- @return boolean
function M.is_drawn(bufnr)
  return drawn[bufnr] ~= nil
end

--- The notification drawn in `bufnr`, if any.
--- @param bufnr integer
--- @return table?
function M.drawn_params(bufnr)
  return drawn[bufnr] and drawn[bufnr].params
end

--- @return boolean
function M.is_visible()
  return visible
end

--- Shows or hides the signs of every buffer. The marks stay where edits moved them; only their sign changes,
--- so showing them again after edits puts each sign on its (moved) line.
--- @param show boolean
function M.set_visible(show)
  visible = show
  for bufnr, state in pairs(drawn) do
    if not vim.api.nvim_buf_is_loaded(bufnr) then
      drawn[bufnr] = nil
    else
      for id, kind in pairs(state.kinds) do
        local at = vim.api.nvim_buf_get_extmark_by_id(bufnr, M.ns, id, { details = true })
        if at[1] == nil or at[3].invalid then
          -- The line was deleted: nothing to show it on again.
          vim.api.nvim_buf_del_extmark(bufnr, M.ns, id)
          state.kinds[id] = nil
        else
          vim.api.nvim_buf_set_extmark(bufnr, M.ns, at[1], at[2], mark(kind, state.stale, id))
        end
      end
    end
  end
end

return M
