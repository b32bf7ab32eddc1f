import { homedir } from 'node:os';
import { beforeEach, describe, expect, it } from 'vitest';
import { __mock } from './mocks/vscode';
import { readDisplayMode, readServerSettings, resolveVariables, SERVER_SETTINGS } from '../src/settings';
import { manifest } from './helpers';

beforeEach(() => __mock.reset());

const properties = manifest.contributes.configuration.properties as Record<string, { default: unknown; enum?: string[] }>;

describe('settings', () => {
  it('package.json contributes every server setting of docs/protocol.md, plus display and trace', () => {
    const names = Object.keys(properties).map((k) => k.replace(/^covlens\./, ''));
    expect(names.sort()).toEqual([...Object.keys(SERVER_SETTINGS), 'display', 'trace.server'].sort());
  });

  it("the defaults in package.json are the protocol's defaults", () => {
    expect(properties['covlens.autoRun'].default).toBe(true);
    expect(properties['covlens.pytestArgs'].default).toEqual([]);
    expect(properties['covlens.debounceMs'].default).toBe(300);
    expect(properties['covlens.engine'].default).toBe('auto');
    expect(properties['covlens.timeout'].default).toBe(600);
    expect(properties['covlens.missedLinesAsHints'].default).toBe(false);
    expect(properties['covlens.testSelection'].default).toBe('affected');
    expect(properties['covlens.followUpFullRun'].default).toBe(true);
    expect(properties['covlens.display'].enum).toEqual(['gutter', 'line']);
  });

  it('every default passes its own validity check (so a default is never refused)', () => {
    for (const [name, valid] of Object.entries(SERVER_SETTINGS)) {
      const d = properties[`covlens.${name}`].default;
      if (name === 'interpreter') expect(d).toBe('');
      else expect(valid(d)).toBe(true);
    }
  });

  it('sends nothing when the user set nothing', () => {
    for (const [k, v] of Object.entries(properties)) __mock.state.defaults.set(k, v.default);
    expect(readServerSettings()).toEqual({});
  });

  it('sends what the user set, with the interpreter path expanded', () => {
    __mock.state.config.set('covlens.autoRun', false);
    __mock.state.config.set('covlens.missedLinesAsHints', true);
    __mock.state.config.set('covlens.engine', 'ast');
    __mock.state.config.set('covlens.interpreter', '~/venvs/shop/bin/python');
    expect(readServerSettings()).toEqual({
      autoRun: false,
      missedLinesAsHints: true,
      engine: 'ast',
      interpreter: `${homedir()}/venvs/shop/bin/python`,
    });
  });

  it('a relative interpreter path is relative to the workspace folder; a bare name is left for PATH', () => {
    __mock.state.config.set('covlens.interpreter', '.venv/bin/python');
    expect(readServerSettings().interpreter).toBe('/ws/.venv/bin/python');
    __mock.state.config.set('covlens.interpreter', 'python3.12');
    expect(readServerSettings().interpreter).toBe('python3.12');
  });

  it('leaves out values of the wrong type', () => {
    __mock.state.config.set('covlens.pytestArgs', '-x');
    __mock.state.config.set('covlens.engine', 'fast');
    __mock.state.config.set('covlens.severity', { source: 'loud' });
    __mock.state.config.set('covlens.debounceMs', -5);
    expect(readServerSettings()).toEqual({});
  });

  it('resolves ${workspaceFolder} and ${userHome}', () => {
    expect(resolveVariables(' ${workspaceFolder}/.venv/bin/python ', '/ws')).toBe('/ws/.venv/bin/python');
    expect(resolveVariables('${userHome}/py')).toBe(`${homedir()}/py`);
  });

  it('display mode: gutter unless line', () => {
    expect(readDisplayMode()).toBe('gutter');
    __mock.state.config.set('covlens.display', 'line');
    expect(readDisplayMode()).toBe('line');
    __mock.state.config.set('covlens.display', 'sideways');
    expect(readDisplayMode()).toBe('gutter');
  });
});
