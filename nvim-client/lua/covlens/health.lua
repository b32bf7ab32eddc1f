--- covlens.health: `:checkhealth covlens` — Neovim version, the server command, running servers.

local M = {}

function M.check()
  local health = vim.health
  health.start('covlens')
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()))
  else
    health.error('Neovim 0.11 or newer is needed (vim.lsp.config, vim.lsp.enable)')
  end

  local options = require('covlens').options
  if not options then
    health.warn('require("covlens").setup() was not called: no signs, commands or statusline')
  end
  local cmd = options and options.cmd or require('covlens.config').default_cmd()
  local shown = table.concat(cmd, ' ')
  if vim.fn.executable(cmd[1]) ~= 1 then
    health.error(('server command not found: %s'):format(shown), {
      'install covlens into the Python you use (pip install -e /path/to/covlens)',
      'or give setup() a cmd, e.g. { ".venv/bin/python", "-m", "covlens", "serve" }',
    })
  else
    local result = vim.system(vim.list_extend(vim.deepcopy(cmd), { '--help' }), { text = true }):wait(15000)
    if result.code == 0 then
      health.ok('server command works: ' .. shown)
    else
      health.error(('`%s --help` failed (exit %s): %s'):format(shown, tostring(result.code),
        vim.trim((result.stderr or '') .. (result.stdout or ''))), {
        'is covlens installed in that Python? try it in a terminal',
      })
    end
  end

  local clients = vim.lsp.get_clients({ name = 'covlens' })
  if #clients == 0 then
    health.info('no covlens server running (it starts for Python files inside a project)')
  end
  for _, client in ipairs(clients) do
    health.ok(('server %d running for %s'):format(client.id, client.root_dir or '?'))
  end
end

return M
