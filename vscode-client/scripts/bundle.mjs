// Bundles the extension and its runtime dependencies into out/extension.js, so the .vsix ships no node_modules.
import { build } from 'esbuild';

const production = !process.argv.includes('--dev');

await build({
  entryPoints: ['src/extension.ts'],
  bundle: true,
  outfile: 'out/extension.js',
  platform: 'node',
  format: 'cjs',
  target: 'node18', // the Node of VS Code 1.82's Electron
  external: ['vscode'],
  minify: production,
  sourcemap: !production,
  logLevel: 'warning',
});
console.log(`bundled out/extension.js (${production ? 'production' : 'development'})`);
