import { defineConfig } from 'vitest/config';

// Checks on the packaged .vsix; `npm run package` runs them right after `vsce package`.
export default defineConfig({
  test: { include: ['test/package/**/*.test.ts'], environment: 'node' },
});
