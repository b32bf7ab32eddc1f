import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { __mock, ViewColumn } from './mocks/vscode';
import { Commands } from '../src/commands';
import { activate, deactivate, type CovlensApi } from '../src/extension';
import { FILE_COVERAGE, RUN_STATUS } from '../src/protocol';
import type { ServerDeps } from '../src/server';
import { coverage, fakeFactory, manifest, settle, type FakeClient } from './helpers';

const CART = '/ws/shop/cart.py';

async function start(overrides: Partial<ServerDeps> = {}) {
  const { factory, clients } = fakeFactory();
  const context = __mock.extensionContext();
  const api: CovlensApi = activate(context as never, {
    factory,
    resolve: async () => ({ command: ['/venv/bin/python'], source: 'setting' }),
    check: async () => ({ ok: true, version: '0.1.0' }),
    ...overrides,
  });
  await api.ready;
  return { api, context, clients, client: clients[0] as FakeClient | undefined };
}

beforeEach(() => __mock.reset());
afterEach(async () => {
  await deactivate();
});

describe('the manifest', () => {
  it('activates in workspaces with Python files and on opening a Python file', () => {
    expect(manifest.activationEvents).toEqual(expect.arrayContaining(['workspaceContains:**/*.py', 'onLanguage:python']));
    expect(manifest.main).toBe('./out/extension.js');
  });

  it('declares that it does not run in untrusted workspaces', () => {
    expect(manifest.capabilities.untrustedWorkspaces.supported).toBe(false);
    expect(manifest.capabilities.untrustedWorkspaces.description).toMatch(/trusted/);
  });

  it('uses vscode-languageclient 9 with an engine it supports', () => {
    expect(manifest.dependencies['vscode-languageclient']).toMatch(/^\^?9\./);
    expect(manifest.engines.vscode).toBe('^1.82.0');
  });
});

describe('command registration', () => {
  it('registers every command in package.json, and package.json lists every registered command', async () => {
    await start();
    const contributed = manifest.contributes.commands.map((c: { command: string }) => c.command).sort();
    const registered = [...__mock.state.commands.keys()].sort();
    expect(registered).toEqual(contributed);
    expect(Object.values(Commands).sort()).toEqual(contributed);
  });

  it('gives every contributed command a title in the covlens category', () => {
    for (const c of manifest.contributes.commands) {
      expect(c.title).toBeTruthy();
      expect(c.category).toBe('covlens');
    }
  });

  it('menus refer only to contributed commands', () => {
    const contributed = new Set(manifest.contributes.commands.map((c: { command: string }) => c.command));
    for (const items of Object.values(manifest.contributes.menus) as { command: string }[][])
      for (const item of items) expect(contributed.has(item.command)).toBe(true);
  });

  it('unregisters the commands when the extension is deactivated', async () => {
    const { context } = await start();
    for (const d of context.subscriptions) d.dispose();
    expect(__mock.state.commands.size).toBe(0);
  });
});

describe('the commands', () => {
  it('run all tests: covlens.runAll to the server', async () => {
    const { client } = await start();
    client!.responses.set('covlens.runAll', { runId: 'r-9' });
    expect(await __mock.state.commands.get(Commands.runAll)!()).toEqual({ runId: 'r-9' });
    expect(client!.requests).toEqual([{ method: 'workspace/executeCommand', params: { command: 'covlens.runAll', arguments: [] } }]);
  });

  it("run this file's tests: the active editor's URI", async () => {
    const { client } = await start();
    __mock.openEditor(CART, 10);
    await __mock.state.commands.get(Commands.runFile)!();
    expect(client!.requests[0].params).toEqual({ command: 'covlens.runFile', arguments: ['file:///ws/shop/cart.py'] });
  });

  it("run this file's tests without an open file: a hint, no request", async () => {
    const { client } = await start();
    await __mock.state.commands.get(Commands.runFile)!();
    expect(client!.requests).toEqual([]);
    expect(__mock.state.messages[0].message).toMatch(/open a Python file/);
  });

  it('explain this module: shows the markdown explanation', async () => {
    const { client } = await start();
    __mock.openEditor(CART, 10);
    client!.responses.set('covlens.explain', { decision: coverage().decision, explanation: '# shop.cart\ninstrumented (source)' });
    await __mock.state.commands.get(Commands.explain)!();
    expect(client!.requests[0].params).toEqual({ command: 'covlens.explain', arguments: ['file:///ws/shop/cart.py'] });
    expect(__mock.state.opened).toEqual([{ language: 'markdown', content: '# shop.cart\ninstrumented (source)' }]);
    expect(__mock.state.executed.map((e) => e.command)).toContain('markdown.showPreviewToSide');
  });

  it('explain from a code lens: the argument given (a URI string or a module name)', async () => {
    const { client } = await start();
    await __mock.state.commands.get(Commands.explain)!('shop.cart');
    expect(client!.requests[0].params.arguments).toEqual(['shop.cart']);
  });

  it('export LCOV: reports the path and opens it on request', async () => {
    const { client } = await start();
    client!.responses.set('covlens.exportLcov', { path: '.covlens/lcov.info' });
    __mock.answerMessages('Open');
    await __mock.state.commands.get(Commands.exportLcov)!();
    expect(__mock.state.messages[0].message).toBe('covlens: LCOV written to .covlens/lcov.info');
    expect((__mock.state.shownDocuments[0] as { path: string }).path).toBe('/ws/.covlens/lcov.info');
  });

  it('toggle coverage display: hides and shows, and remembers it for the workspace', async () => {
    const { api, context } = await start();
    expect(await __mock.state.commands.get(Commands.toggleCoverage)!()).toBe(false);
    expect(api.decorations.isVisible).toBe(false);
    expect(context.workspaceState.get('covlens.coverageVisible')).toBe(false);
    expect(await __mock.state.commands.get(Commands.toggleCoverage)!()).toBe(true);
  });

  it('show output: the covlens output channel', async () => {
    const { api } = await start();
    await __mock.state.commands.get(Commands.showOutput)!();
    expect((api.output as unknown as { shown: boolean }).shown).toBe(true);
  });

  it('restart server: stops the client and starts a new one', async () => {
    const { clients } = await start();
    await __mock.state.commands.get(Commands.restartServer)!();
    expect(clients).toHaveLength(2);
    expect(clients[0].stopped).toBe(1);
    expect(clients[1].started).toBe(1);
  });

  it('a failing request becomes an error message, not an exception', async () => {
    const { client } = await start();
    client!.sendRequest = async () => {
      throw new Error('InvalidParams: no such module');
    };
    await expect(__mock.state.commands.get(Commands.runAll)!()).resolves.toBeUndefined();
    expect(__mock.state.messages[0]).toMatchObject({ level: 'error', message: 'covlens: covlens.runAll failed: InvalidParams: no such module' });
  });
});

describe('workspace trust', () => {
  it('untrusted workspace: the server is never started', async () => {
    __mock.setTrusted(false);
    const { api, clients } = await start();
    expect(clients).toHaveLength(0);
    expect(await api.ready).toBe(false);
    expect(api.server.state).toBe('untrusted');
    expect(__mock.state.statusBarItems[0].text).toBe('$(shield) covlens');
  });

  it('untrusted workspace: no interpreter is run to check for covlens', async () => {
    __mock.setTrusted(false);
    let checked = 0;
    await start({ check: async () => (checked++, { ok: true, version: '1' }) });
    expect(checked).toBe(0);
  });

  it('untrusted workspace: run all / run file do not run anything and say why', async () => {
    __mock.setTrusted(false);
    const { clients } = await start();
    __mock.openEditor(CART, 10);
    await __mock.state.commands.get(Commands.runAll)!();
    await __mock.state.commands.get(Commands.runFile)!();
    expect(clients).toHaveLength(0);
    expect(__mock.state.messages.map((m) => m.message)).toEqual([
      'covlens does not run tests in an untrusted workspace.',
      'covlens does not run tests in an untrusted workspace.',
    ]);
  });

  it('restart in an untrusted workspace still starts nothing', async () => {
    __mock.setTrusted(false);
    const { clients } = await start();
    await __mock.state.commands.get(Commands.restartServer)!();
    expect(clients).toHaveLength(0);
  });

  it('granting trust starts the server', async () => {
    __mock.setTrusted(false);
    const { clients, api } = await start();
    __mock.setTrusted(true);
    await settle();
    expect(clients).toHaveLength(1);
    expect(api.server.state).toBe('running');
  });
});

describe('server notifications reach the editor', () => {
  it('fileCoverage draws in every visible editor of the file; runStatus updates the status bar', async () => {
    const { client } = await start();
    const editors = __mock.openEditor(CART, 20, [ViewColumn.One, ViewColumn.Two]);
    client!.emit(FILE_COVERAGE, coverage());
    for (const editor of editors) {
      const nonEmpty = [...editor.decorations.values()].filter((r) => r.length).map((r) => r.map((x) => x.start.line));
      expect(nonEmpty).toEqual([[0, 2, 3, 5], [8, 9], [4]]);
    }
    client!.emit(RUN_STATUS, { state: 'complete', percent: 71.43, counts: { passed: 3, failed: 1 } });
    expect(__mock.state.statusBarItems[0].text).toBe('$(beaker) 71.4% $(error) 1');
  });

  it('while the file is edited: an outdated result is dropped, moved stale lines are drawn faded, the next run is solid', async () => {
    const { client, api } = await start();
    const [editor] = __mock.openEditor(CART, 20);
    const shown = () =>
      [...editor.decorations.entries()]
        .filter(([, r]) => r.length)
        .map(([t, r]) => `${(t.options as any).gutterIconPath.path.split('/').pop()}:${r.map((x) => x.start.line)}`);
    client!.emit(FILE_COVERAGE, coverage({ version: 1, covered: [1], missed: [2], partial: [] }));
    expect(shown()).toEqual(['covered.svg:1', 'missed.svg:2']);

    editor.document.edit('\n'.repeat(20)); // the user inserts a line above: version 2
    client!.emit(FILE_COVERAGE, coverage({ version: 1, covered: [5], missed: [], partial: [] })); // a run on version 1 finishing late
    expect(api.state.get('file:///ws/shop/cart.py')?.covered).toEqual([1]);
    client!.emit(FILE_COVERAGE, coverage({ version: 2, stale: true, covered: [2], missed: [3], partial: [] }));
    expect(shown()).toEqual(['covered-stale.svg:2', 'missed-stale.svg:3']);

    client!.emit(FILE_COVERAGE, coverage({ version: 2, covered: [2, 3], missed: [], partial: [] }));
    expect(shown()).toEqual(['covered.svg:2,3']);
  });

  it('a notification with a bad URI is logged and ignored', async () => {
    const { client, api } = await start();
    client!.emit(FILE_COVERAGE, coverage({ uri: '::not a uri' }));
    expect(api.state.size).toBe(0);
    expect((api.output as unknown as { lines: string[] }).lines.join('\n')).toContain('bad uri');
  });

  it('a tab switch redraws from the latest coverage', async () => {
    const { client } = await start();
    client!.emit(FILE_COVERAGE, coverage());
    const [editor] = __mock.openEditor(CART, 20);
    expect([...editor.decorations.values()].some((r) => r.length)).toBe(true);
  });

  it('the display setting switches to line highlights at once', async () => {
    const { client, api } = await start();
    client!.emit(FILE_COVERAGE, coverage());
    __mock.setConfig('covlens.display', 'line');
    expect(api.decorations.displayMode).toBe('line');
  });

  it('a changed server setting is sent to the server; a changed interpreter restarts it', async () => {
    const { clients } = await start();
    __mock.setConfig('covlens.pytestArgs', ['-x']);
    await settle();
    expect(clients[0].notifications).toEqual([
      { method: 'workspace/didChangeConfiguration', params: { settings: { covlens: { pytestArgs: ['-x'] } } } },
    ]);
    __mock.setConfig('covlens.interpreter', '/other/python');
    await settle();
    expect(clients).toHaveLength(2);
  });

  it('when the server dies, the coverage on screen turns stale and the status bar offers a restart', async () => {
    const { client, api } = await start();
    const [editor] = __mock.openEditor(CART, 20);
    client!.emit(FILE_COVERAGE, coverage());
    client!.die();
    expect(api.state.get('file:///ws/shop/cart.py')?.stale).toBe(true);
    const drawnTypes = [...editor.decorations.entries()].filter(([, r]) => r.length).map(([t]) => (t.options as any).gutterIconPath.path);
    expect(drawnTypes.every((p: string) => p.endsWith('-stale.svg'))).toBe(true);
    expect(__mock.state.statusBarItems[0].command).toBe('covlens.restartServer');
  });
});
