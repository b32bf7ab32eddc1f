import { beforeEach, describe, expect, it } from 'vitest';
import { __mock, window } from './mocks/vscode';
import type { LanguageClientOptions } from 'vscode-languageclient/node';
import { FILE_COVERAGE, RUN_STATUS } from '../src/protocol';
import { CLIENT_OWNED_COMMANDS, CovlensServer, ServerNotRunningError, skipOwnedCommands, type ServerDeps } from '../src/server';
import type { ServerState } from '../src/statusBar';
import { coverage, fakeFactory } from './helpers';

beforeEach(() => __mock.reset());

function makeServer(overrides: Partial<ServerDeps> = {}) {
  const { factory, clients } = fakeFactory();
  const states: ServerState[] = [];
  const received: unknown[] = [];
  const output = window.createOutputChannel('covlens') as never;
  const server = new CovlensServer({
    output,
    factory,
    onFileCoverage: (p) => received.push(p),
    onRunStatus: (p) => received.push(p),
    onStateChange: (s) => states.push(s),
    resolve: async () => ({ command: ['/venv/bin/python'], source: 'setting' }),
    check: async () => ({ ok: true, version: '0.1.0' }),
    ...overrides,
  });
  return { server, clients, states, received, output };
}

describe('starting the server', () => {
  it('runs `<python> -m covlens serve` in the workspace folder', async () => {
    const { server, clients, states } = makeServer();
    expect(await server.start()).toBe(true);
    expect(clients[0].serverOptions).toEqual({ command: '/venv/bin/python', args: ['-m', 'covlens', 'serve'], options: { cwd: '/ws' } });
    expect(states).toEqual(['starting', 'running']);
  });

  it('keeps the leading arguments of an interpreter command (conda run …)', async () => {
    const { server, clients } = makeServer({ resolve: async () => ({ command: ['conda', 'run', '-n', 'shop', 'python'], source: 'python-extension' }) });
    await server.start();
    expect(clients[0].serverOptions).toMatchObject({ command: 'conda', args: ['run', '-n', 'shop', 'python', '-m', 'covlens', 'serve'] });
  });

  it('syncs Python files and pyproject.toml, and logs to the covlens output channel', async () => {
    const { server, clients, output } = makeServer();
    await server.start();
    const options = clients[0].clientOptions;
    expect(options.documentSelector).toEqual([
      { scheme: 'file', language: 'python' },
      { scheme: 'file', pattern: '**/pyproject.toml' },
    ]);
    expect(options.outputChannel).toBe(output);
    expect((output as unknown as { lines: string[] }).lines.join('\n')).toContain('Python (setting): /venv/bin/python');
  });

  it('sends as initializationOptions only the settings the user set (the rest come from pyproject.toml)', async () => {
    __mock.state.defaults.set('covlens.autoRun', true);
    __mock.state.config.set('covlens.debounceMs', 1000);
    __mock.state.config.set('covlens.severity', { 'already-imported': 'error' });
    __mock.state.config.set('covlens.display', 'line'); // a client-only setting
    __mock.state.config.set('covlens.timeout', 'soon'); // wrong type: left out
    const { server, clients } = makeServer();
    await server.start();
    const init = clients[0].clientOptions.initializationOptions as () => unknown;
    expect(init()).toEqual({ debounceMs: 1000, severity: { 'already-imported': 'error' } });
  });

  it('answers workspace/configuration for the covlens section in the protocol shape', async () => {
    __mock.state.config.set('covlens.pytestArgs', ['-x', '-q']);
    __mock.state.config.set('covlens.interpreter', '');
    const { server, clients } = makeServer();
    await server.start();
    const middleware = (clients[0].clientOptions as LanguageClientOptions).middleware!.workspace!.configuration!;
    const next = async (params: { items: { section?: string }[] }) => params.items.map((i) => `raw:${i.section}`);
    const result = await middleware(
      { items: [{ section: 'covlens' }, { section: 'python' }, { scopeUri: 'file:///ws/a.py', section: 'covlens' }] },
      {} as never,
      next as never,
    );
    expect(result).toEqual([{ pytestArgs: ['-x', '-q'] }, 'raw:python', { pytestArgs: ['-x', '-q'] }]);
  });

  it('routes fileCoverage and runStatus notifications', async () => {
    const { server, clients, received } = makeServer();
    await server.start();
    clients[0].emit(FILE_COVERAGE, coverage());
    clients[0].emit(RUN_STATUS, { state: 'idle' });
    expect(received).toEqual([coverage(), { state: 'idle' }]);
  });

  it('a server that fails to start: stopped, an error message with Show Output', async () => {
    const { factory, clients } = fakeFactory();
    const { server, states } = makeServer({
      factory: (s, c) => {
        const client = factory(s, c);
        (client as { failStart?: Error }).failStart = new Error('exited with code 1');
        return client;
      },
    });
    expect(await server.start()).toBe(false);
    expect(clients).toHaveLength(1);
    expect(states.at(-1)).toBe('stopped');
    expect(__mock.state.messages[0]).toMatchObject({ level: 'error', items: ['Show Output'] });
    await expect(server.executeCommand('covlens.runAll')).rejects.toBeInstanceOf(ServerNotRunningError);
  });

  it('starting twice starts one client; concurrent restarts are serialized', async () => {
    const { server, clients } = makeServer();
    await Promise.all([server.start(), server.start()]);
    expect(clients).toHaveLength(1);
    await Promise.all([server.restart(), server.restart()]);
    expect(clients).toHaveLength(3);
    expect(clients.slice(0, 2).map((c) => c.stopped)).toEqual([1, 1]);
  });

  it('stop stops the client; commands then say the server is not running', async () => {
    const { server, clients } = makeServer();
    await server.start();
    await server.stop();
    expect(clients[0].stopped).toBe(1);
    await expect(server.executeCommand('covlens.runAll')).rejects.toThrow('not running');
  });

  it('notifications from a client that was replaced are ignored', async () => {
    const { server, clients, received } = makeServer();
    await server.start();
    await server.restart();
    clients[0].emit(FILE_COVERAGE, coverage());
    expect(received).toEqual([]);
  });
});

describe("the language client's command registration", () => {
  it("skips the commands the extension owns and keeps the server's others", () => {
    const registered: string[][] = [];
    const feature = {
      registrationType: { method: 'workspace/executeCommand' },
      register(data: { registerOptions: { commands?: string[] } }) {
        registered.push(data.registerOptions.commands ?? []);
      },
    };
    skipOwnedCommands(feature);
    feature.register({ id: '1', registerOptions: { commands: [...CLIENT_OWNED_COMMANDS, 'covlens.debugDump'] } } as never);
    expect(registered).toEqual([['covlens.debugDump']]);
  });

  it('leaves other features alone', () => {
    const register = () => undefined;
    const feature = { registrationType: { method: 'textDocument/hover' }, register };
    skipOwnedCommands(feature);
    expect(feature.register).toBe(register);
  });

  it('owns exactly the commands of docs/protocol.md', () => {
    expect([...CLIENT_OWNED_COMMANDS].sort()).toEqual(
      ['covlens.cancel', 'covlens.explain', 'covlens.exportJson', 'covlens.exportLcov', 'covlens.runAll', 'covlens.runFile'],
    );
  });
});
