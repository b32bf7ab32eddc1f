/**
 * Loads the bundled out/extension.js (real vscode-languageclient inside)
 * against the vscode mock compiled to CommonJS, so `require('vscode')` in the
 * bundle gets the mock.
 */
import { mkdtempSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import type * as MockModule from '../mocks/vscode';

export const root = path.resolve(__dirname, '..', '..');
export const bundlePath = path.join(root, 'out', 'extension.js');

export interface Harness {
  vscode: typeof MockModule;
  ext: { activate(ctx: unknown): any; deactivate(): Promise<void> };
  /** Undoes the `require('vscode')` redirection. */
  restore(): void;
}

export function loadBundle(): Harness {
  const dir = mkdtempSync(path.join(tmpdir(), 'covlens-mock-'));
  const mockFile = path.join(dir, 'vscode-mock.cjs');
  buildSync({
    entryPoints: [path.join(root, 'test', 'mocks', 'vscode.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: mockFile,
    logLevel: 'silent',
  });
  const mod = Module as unknown as { _resolveFilename: (...args: unknown[]) => string };
  const original = mod._resolveFilename;
  mod._resolveFilename = function (this: unknown, request: unknown, ...rest: unknown[]) {
    return request === 'vscode' ? mockFile : original.call(this, request, ...rest);
  };
  const req = createRequire(__filename);
  delete req.cache[bundlePath];
  const vscode = req(mockFile) as typeof MockModule;
  const ext = req(bundlePath);
  return { vscode, ext, restore: () => (mod._resolveFilename = original) };
}

/** Waits until `condition()` holds, re-checking every 10 ms (fails after `ms`). */
export async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The lines an editor shows, by gutter icon file name (`covered.svg: [0, 1]`). */
export function drawnByIcon(editor: MockModule.TextEditor): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [type, ranges] of editor.decorations) {
    if (!ranges.length) continue;
    const icon = String((type.options as { gutterIconPath?: { path: string } }).gutterIconPath?.path ?? 'line').split('/').pop()!;
    out[icon] = ranges.map((r) => r.start.line);
  }
  return out;
}

/** Explains why the extension did not start. */
export function startFailure(vscode: typeof MockModule): Error {
  const m = vscode.__mock.state;
  return new Error(`the extension did not start:\n${m.outputChannels[0]?.lines.join('\n')}\n${JSON.stringify(m.messages)}`);
}
