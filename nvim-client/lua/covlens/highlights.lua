--- covlens.highlights: the highlight groups of the signs, linked by default so colorschemes and users can override them.

local M = {}

--- Group → what it links to unless the user or the colorscheme defined it.
M.links = {
  CovlensCovered = 'DiagnosticOk',
  CovlensMissed = 'DiagnosticError',
  CovlensPartial = 'DiagnosticWarn',
  CovlensStale = 'Comment',
  CovlensCoveredStale = 'CovlensStale',
  CovlensMissedStale = 'CovlensStale',
  CovlensPartialStale = 'CovlensStale',
}

--- The group of a sign for a line of `kind` ('covered' | 'missed' | 'partial').
--- @param kind string
--- @param stale boolean
--- @return string
function M.group(kind, stale)
  local name = 'Covlens' .. kind:sub(1, 1):upper() .. kind:sub(2)
  return stale and name .. 'Stale' or name
end

--- Defines the default links (`default = true`: a group the user set keeps its definition).
function M.define()
  for name, link in pairs(M.links) do
    vim.api.nvim_set_hl(0, name, { link = link, default = true })
  end
end

--- Defines the groups now and again after every `:colorscheme` (which clears them).
--- @param augroup integer
function M.setup(augroup)
  M.define()
  vim.api.nvim_create_autocmd('ColorScheme', {
    group = augroup,
    desc = 'covlens: restore the default links of the Covlens* highlight groups',
    callback = M.define,
  })
end

return M
