/**
 * The bundled out/extension.js, with the real vscode-languageclient inside,
 * activated against the vscode mock and a fake covlens server
 * (fixtures/fake-python.js) that speaks LSP over stdio.
 */
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as MockModule from '../mocks/vscode';
import { drawnByIcon, loadBundle, root, startFailure, until, type Harness } from './harness';

const work = mkdtempSync(path.join(tmpdir(), 'covlens-bundle-'));
// A copy, made executable here, so the test does not depend on the file mode git checked out.
const fakePython = path.join(work, 'fake-python');
const serverLog = path.join(work, 'server.log');

let harness: Harness;
let vscode: typeof MockModule;
let ext: Harness['ext'];
let api: any;
let editor: MockModule.TextEditor;

const serverMessages = () =>
  existsSync(serverLog) ? readFileSync(serverLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];

beforeAll(async () => {
  copyFileSync(path.join(__dirname, 'fixtures', 'fake-python.js'), fakePython);
  chmodSync(fakePython, 0o755);
  harness = loadBundle();
  ({ vscode, ext } = harness);
  const m = vscode.__mock;
  m.reset();
  m.state.workspaceFolders = [{ uri: vscode.Uri.file(work), name: 'ws', index: 0 }];
  m.state.config.set('covlens.interpreter', fakePython);
  m.state.config.set('covlens.pytestArgs', ['-q']);
  writeFileSync(path.join(work, 'cart.py'), 'a = 1\nb = 2\nif a:\n    c = 3\n');
  [editor] = m.openEditor(path.join(work, 'cart.py'), readFileSync(path.join(work, 'cart.py'), 'utf8').trimEnd());
  process.env.FAKE_SERVER_LOG = serverLog;
  process.env.FAKE_SERVER_FILE = vscode.Uri.file(path.join(work, 'cart.py')).toString();

  api = ext.activate(m.extensionContext(root));
  if (!(await api.ready)) throw startFailure(vscode);
}, 30_000);

afterAll(async () => {
  await ext?.deactivate();
  harness?.restore();
  rmSync(work, { recursive: true, force: true });
});

describe('the bundled extension with the real language client', () => {
  it('starts `<interpreter> -m covlens serve` and initializes with the user settings', () => {
    const init = serverMessages().find((m) => m.method === 'initialize');
    expect(init.params.initializationOptions).toEqual({ interpreter: fakePython, pytestArgs: ['-q'] });
    expect(init.params.rootUri).toBe(vscode.Uri.file(work).toString());
    expect(api.server.state).toBe('running');
  });

  it('draws the covlens/fileCoverage lines in the open editor', async () => {
    await until(() => [...editor.decorations.values()].some((r) => r.length > 0), 'decorations');
    expect(drawnByIcon(editor)).toEqual({ 'covered.svg': [0, 1], 'missed.svg': [3], 'partial.svg': [2] });
  });

  it('shows covlens/runStatus in the status bar', async () => {
    await until(() => vscode.__mock.state.statusBarItems[0].text.includes('62.5'), 'the status bar');
    expect(vscode.__mock.state.statusBarItems[0].text).toBe('$(beaker) 62.5% $(error) 1');
  });

  it('answers workspace/configuration with the covlens settings', async () => {
    const output = vscode.__mock.state.outputChannels[0];
    await until(() => output.lines.some((l) => l.includes('configuration:')), 'the configuration log line');
    expect(output.lines.find((l) => l.includes('configuration:'))).toContain(`[{"pytestArgs":["-q"],"interpreter":${JSON.stringify(fakePython)}}]`);
  });

  it('owns the protocol commands; other server commands are forwarded by the language client', async () => {
    const commands = vscode.__mock.state.commands;
    expect(commands.has('covlens.debugDump')).toBe(true); // registered by vscode-languageclient
    const result = await vscode.commands.executeCommand('covlens.runAll');
    expect(result).toEqual({ runId: 'r-2', echo: { command: 'covlens.runAll', arguments: [] } });
    await vscode.commands.executeCommand('covlens.explain', 'cart');
    expect(vscode.__mock.state.opened.at(-1)).toEqual({ language: 'markdown', content: '# explained cart' });
    expect(serverMessages().filter((m) => m.method === 'workspace/executeCommand').map((m) => m.params.command)).toEqual([
      'covlens.runAll',
      'covlens.explain',
    ]);
  });

  it('shuts the server down on deactivate', async () => {
    await ext.deactivate();
    await until(() => serverMessages().some((m) => m.method === 'exit'), 'exit');
    expect(serverMessages().map((m) => m.method)).toContain('shutdown');
  });
});
