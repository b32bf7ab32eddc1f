/**
 * The bundled extension against the real `python -m covlens serve` on a small
 * project. Runs only when COVLENS_E2E_PYTHON names a Python in which covlens
 * (and pytest) is installed, e.g. `COVLENS_E2E_PYTHON=../.venv-3.11/bin/python`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as MockModule from '../mocks/vscode';
import { drawnByIcon, loadBundle, root, startFailure, until, type Harness } from './harness';

const python = process.env.COVLENS_E2E_PYTHON ? path.resolve(root, process.env.COVLENS_E2E_PYTHON) : undefined;

const CART = `def total(prices, discount=False):
    s = sum(prices)
    if discount:
        s = s * 0.9
    return s


def unused():
    return 1
`;
const TEST = `from cart import total


def test_total():
    assert total([1, 2]) == 3
`;

describe.skipIf(!python)('the bundled extension with the real covlens server', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'covlens-e2e-'));
  let harness: Harness;
  let vscode: typeof MockModule;
  let api: any;
  let editor: MockModule.TextEditor;

  beforeAll(async () => {
    writeFileSync(path.join(work, 'cart.py'), CART);
    writeFileSync(path.join(work, 'test_cart.py'), TEST);
    harness = loadBundle();
    vscode = harness.vscode;
    const m = vscode.__mock;
    m.reset();
    m.state.workspaceFolders = [{ uri: vscode.Uri.file(work), name: 'shop', index: 0 }];
    m.state.config.set('covlens.interpreter', python);
    m.state.config.set('covlens.autoRun', false);
    if (process.env.E2E_DEBUG) m.state.config.set('covlens.trace.server', 'messages');
    // Exactly the text on disk: a buffer that differs from the file (even by its last newline) is an unsaved edit,
    // which the server rightly publishes as stale.
    [editor] = m.openEditor(path.join(work, 'cart.py'), CART);
    api = harness.ext.activate(m.extensionContext(root));
    if (!(await api.ready)) throw startFailure(vscode);
  }, 60_000);

  afterAll(async () => {
    await harness?.ext.deactivate();
    harness?.restore();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs all tests on request and draws the lines the test ran and missed', async () => {
    // Sent as soon as the client is ready: the server holds a command until its own start-up is done.
    const result = await vscode.commands.executeCommand<{ runId: string }>('covlens.runAll');
    if (!result) throw new Error(JSON.stringify(vscode.__mock.state.messages) + '\n' + vscode.__mock.state.outputChannels[0]?.lines.join('\n'));
    expect(result?.runId).toBeTruthy();
    await until(() => {
      const lines = drawnByIcon(editor);
      return (lines['missed.svg'] ?? []).includes(3);
    }, 'missed lines in cart.py', 60_000);
    const lines = drawnByIcon(editor);
    if (process.env.E2E_DEBUG) console.log(JSON.stringify(lines), vscode.__mock.state.statusBarItems[0].text);
    expect(lines['covered.svg']).toEqual(expect.arrayContaining([0, 1, 4, 7]));
    expect(lines['missed.svg']).toEqual(expect.arrayContaining([3, 8]));
    expect(Object.keys(lines).some((icon) => icon.includes('stale'))).toBe(false);
  }, 90_000);

  it('shows the workspace coverage in the status bar', async () => {
    const item = vscode.__mock.state.statusBarItems[0];
    await until(() => /\$\(beaker\) \d+(\.\d)?%/.test(item.text), `a percentage in the status bar (now ${item.text})`, 30_000);
    expect(item.command).toBe('covlens.runAll');
  }, 40_000);

  it('explains the module', async () => {
    await vscode.commands.executeCommand('covlens.explain', vscode.Uri.file(path.join(work, 'cart.py')).toString());
    expect(vscode.__mock.state.opened.at(-1)?.language).toBe('markdown');
    expect(vscode.__mock.state.opened.at(-1)?.content).toMatch(/cart/);
  });
});
