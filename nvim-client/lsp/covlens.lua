-- The `covlens` server for `vim.lsp.enable('covlens')` with this plugin on the runtimepath and no setup():
-- diagnostics only. require('covlens').setup() adds the coverage signs, commands and statusline on top.
local config = require('covlens.config')
return config.server(config.resolve())
