-- The init of the e2e tests that use the plugin: nvim-client on the runtimepath, then setup() with the options
-- the test passes as JSON in $COVLENS_E2E_SETUP.
vim.opt.runtimepath:prepend(vim.env.COVLENS_E2E_PLUGIN)
vim.opt.signcolumn = 'yes:2'
vim.opt.swapfile = false
require('covlens').setup(vim.json.decode(vim.env.COVLENS_E2E_SETUP or '{}'))
