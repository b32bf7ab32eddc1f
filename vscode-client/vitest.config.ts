import * as path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // VS Code is not available here: every `import 'vscode'` gets the mock.
    alias: { vscode: path.resolve(__dirname, 'test/mocks/vscode.ts') },
  },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/package/**', 'node_modules/**'],
    environment: 'node',
    restoreMocks: true,
    setupFiles: ['test/setup.ts'],
  },
});
