import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listEntries, readEntry } from './zip';

const root = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const vsixPath = path.join(root, `${manifest.name}-${manifest.version}.vsix`);

/** Exactly what the .vsix may hold: the bundle, the manifest, README, LICENSE and the icons. */
const EXPECTED = [
  '[Content_Types].xml',
  'extension.vsixmanifest',
  'extension/LICENSE.txt',
  'extension/out/extension.js',
  'extension/package.json',
  'extension/readme.md',
  'extension/resources/covered-stale.svg',
  'extension/resources/covered.svg',
  'extension/resources/icon.png',
  'extension/resources/missed-stale.svg',
  'extension/resources/missed.svg',
  'extension/resources/partial-stale.svg',
  'extension/resources/partial.svg',
];

describe(`the packaged ${path.basename(vsixPath)}`, () => {
  it('exists (run `npm run package`)', () => {
    expect(existsSync(vsixPath)).toBe(true);
  });

  const zip = existsSync(vsixPath) ? readFileSync(vsixPath) : Buffer.alloc(0);
  const entries = zip.length ? listEntries(zip) : [];
  const names = entries.map((e) => e.name).sort();
  const read = (name: string) => readEntry(zip, entries.find((e) => e.name === name)!).toString('utf8');

  it('holds only the bundle, package.json, README, LICENSE and icons', () => {
    expect(names).toEqual(EXPECTED);
  });

  it('ships no node_modules, sources, tests, source maps or lock files', () => {
    for (const name of names) {
      expect(name).not.toMatch(/node_modules|\/src\/|\/test\/|\.ts$|\.map$|package-lock|\.vsix$/);
    }
  });

  it('agrees with `unzip -l` where unzip is installed', () => {
    let listing: string;
    try {
      listing = execFileSync('unzip', ['-Z1', vsixPath], { encoding: 'utf8' });
    } catch {
      return; // no unzip on this machine: the reader above is the check
    }
    expect(listing.trim().split('\n').sort()).toEqual(names);
  });

  it("has the manifest's entry point and every contributed icon file", () => {
    const shipped = JSON.parse(read('extension/package.json'));
    expect(shipped.main).toBe('./out/extension.js');
    expect(names).toContain(`extension/${shipped.main.replace(/^\.\//, '')}`);
    expect(names).toContain(`extension/${shipped.icon}`);
    expect(shipped.capabilities.untrustedWorkspaces.supported).toBe(false);
  });

  it('bundles its dependencies: the only modules it requires are vscode and Node built-ins', () => {
    const bundle = read('extension/out/extension.js');
    const required = new Set([...bundle.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]));
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const foreign = [...required].filter((m) => m !== 'vscode' && !builtins.has(m));
    expect(foreign).toEqual([]);
    expect(required).toContain('vscode');
  });

  it('stays small (under 1 MB)', () => {
    expect(statSync(vsixPath).size).toBeLessThan(1024 * 1024);
  });
});
