import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { __mock, EventEmitter, Uri } from './mocks/vscode';
import { activate, deactivate } from '../src/extension';
import {
  CHECK_SCRIPT,
  checkCovlens,
  commandLine,
  DEFAULT_PYTHON,
  installCommand,
  onDidChangePythonInterpreter,
  reportCheckFailure,
  resolveInterpreter,
  type Runner,
} from '../src/interpreter';
import { fakeFactory, settle } from './helpers';

beforeEach(() => __mock.reset());
afterEach(async () => {
  await deactivate();
});

/** A Python extension exposing the `environments` API. */
function pythonExtension(executable: string) {
  const changed = new EventEmitter<unknown>();
  const api = {
    environments: {
      getActiveEnvironmentPath: () => ({ id: 'env', path: executable }),
      resolveEnvironment: async () => ({ executable: { uri: Uri.file(executable) } }),
      onDidChangeActiveEnvironmentPath: changed.event,
    },
  };
  return { api, changed };
}

describe('choosing the interpreter', () => {
  it('the covlens.interpreter setting first, with ${workspaceFolder} expanded', async () => {
    __mock.setExtension('ms-python.python', pythonExtension('/envs/a/bin/python').api);
    __mock.setConfig('covlens.interpreter', '${workspaceFolder}/.venv/bin/python');
    expect(await resolveInterpreter()).toEqual({ command: ['/ws/.venv/bin/python'], source: 'setting' });
  });

  it("else the Python extension's active interpreter (environments API)", async () => {
    __mock.setExtension('ms-python.python', pythonExtension('/envs/a/bin/python').api);
    expect(await resolveInterpreter()).toEqual({ command: ['/envs/a/bin/python'], source: 'python-extension' });
  });

  it("else the older Python extension API's execution details", async () => {
    __mock.setExtension('ms-python.python', {
      settings: { getExecutionDetails: () => ({ execCommand: ['conda', 'run', '-n', 'shop', 'python'] }) },
    });
    expect(await resolveInterpreter()).toEqual({ command: ['conda', 'run', '-n', 'shop', 'python'], source: 'python-extension' });
  });

  it('else python3', async () => {
    expect(await resolveInterpreter()).toEqual({ command: [DEFAULT_PYTHON], source: 'default' });
  });

  it('a Python extension that throws falls back to python3', async () => {
    __mock.setExtension('ms-python.python', {
      environments: {
        getActiveEnvironmentPath: () => {
          throw new Error('boom');
        },
      },
    });
    expect((await resolveInterpreter()).source).toBe('default');
  });

  it("a change of the Python extension's interpreter restarts the server", async () => {
    const { api: pyApi, changed } = pythonExtension('/envs/a/bin/python');
    __mock.setExtension('ms-python.python', pyApi);
    const { factory, clients } = fakeFactory();
    const api = activate(__mock.extensionContext() as never, { factory, check: async () => ({ ok: true, version: '1' }) });
    await api.ready;
    expect(clients[0].serverOptions).toMatchObject({ command: '/envs/a/bin/python' });
    changed.fire({});
    await settle();
    expect(clients).toHaveLength(2);
  });

  it('onDidChangePythonInterpreter gives nothing without the Python extension', async () => {
    expect(await onDidChangePythonInterpreter(() => undefined)).toBeUndefined();
  });
});

describe('checking that covlens is importable', () => {
  const runner = (result: Awaited<ReturnType<Runner>>) => {
    const calls: { file: string; args: string[] }[] = [];
    const run: Runner = async (file, args) => (calls.push({ file, args }), result);
    return { run, calls };
  };

  it('runs `import covlens` in the interpreter, leading arguments kept', async () => {
    const { run, calls } = runner({ code: 0, stdout: '0.3.1', stderr: '' });
    expect(await checkCovlens({ command: ['conda', 'run', 'python'], source: 'python-extension' }, '/ws', run)).toEqual({ ok: true, version: '0.3.1' });
    expect(calls).toEqual([{ file: 'conda', args: ['run', 'python', '-c', CHECK_SCRIPT] }]);
  });

  it('ModuleNotFoundError: not installed', async () => {
    const { run } = runner({ code: 1, stdout: '', stderr: "ModuleNotFoundError: No module named 'covlens'" });
    expect(await checkCovlens({ command: ['python3'], source: 'default' }, undefined, run)).toMatchObject({ ok: false, problem: 'not-installed' });
  });

  it('no such program: no-python', async () => {
    const { run } = runner({ code: 'ENOENT', stdout: '', stderr: 'spawn nope ENOENT' });
    expect(await checkCovlens({ command: ['nope'], source: 'setting' }, undefined, run)).toMatchObject({ ok: false, problem: 'no-python' });
  });

  it('covlens fails on import: broken, with the error', async () => {
    const { run } = runner({ code: 1, stdout: '', stderr: 'Traceback…\nSyntaxError: invalid syntax' });
    expect(await checkCovlens({ command: ['python3'], source: 'default' }, undefined, run)).toMatchObject({
      ok: false,
      problem: 'broken',
      detail: 'Traceback…\nSyntaxError: invalid syntax',
    });
  });

  it('the real runner against a program that exists and one that does not', async () => {
    const node = { command: [process.execPath], source: 'setting' as const };
    // node -c checks syntax of a script name: it fails, which is not "not installed"
    expect((await checkCovlens(node)).ok).toBe(false);
    expect(await checkCovlens({ command: ['/nonexistent/python'], source: 'setting' })).toMatchObject({ problem: 'no-python' });
  });
});

describe('when covlens is missing from the interpreter', () => {
  const python = { command: ['/home/me/.venv/bin/python'], source: 'setting' as const };

  it('the error names the interpreter and gives the install command', async () => {
    await reportCheckFailure(python, { ok: false, problem: 'not-installed', detail: 'No module named covlens' });
    expect(__mock.state.messages[0]).toEqual({
      level: 'error',
      message:
        'covlens is not installed in /home/me/.venv/bin/python (setting covlens.interpreter). Install it with: /home/me/.venv/bin/python -m pip install covlens',
      items: ['Install covlens', 'Open Settings'],
    });
  });

  it('the Install button runs the install command in a terminal', async () => {
    __mock.answerMessages((m) => (m.items.includes('Install covlens') ? 'Install covlens' : undefined));
    await reportCheckFailure(python, { ok: false, problem: 'not-installed', detail: '' });
    expect(__mock.state.terminals[0].sent).toEqual(['/home/me/.venv/bin/python -m pip install covlens']);
    expect(__mock.state.terminals[0].shown).toBe(true);
  });

  it('offers Select Interpreter when the Python extension is installed', async () => {
    __mock.setExtension('ms-python.python', {});
    __mock.answerMessages('Select Interpreter');
    await reportCheckFailure(python, { ok: false, problem: 'not-installed', detail: '' });
    expect(__mock.state.messages[0].items).toEqual(['Install covlens', 'Select Interpreter']);
    expect(__mock.state.executed.map((e) => e.command)).toContain('python.setInterpreter');
  });

  it('quotes an interpreter path with spaces in the install command', () => {
    expect(installCommand({ command: ['/Users/me/My Envs/py/bin/python'], source: 'setting' })).toBe(
      process.platform === 'win32'
        ? '& "/Users/me/My Envs/py/bin/python" -m pip install covlens'
        : '"/Users/me/My Envs/py/bin/python" -m pip install covlens',
    );
    expect(commandLine(['conda', 'run', '-n', 'shop', 'python'], ['-m', 'covlens'])).toBe('conda run -n shop python -m covlens');
  });

  it('on activation: no server, an error with the install command, the status bar says so', async () => {
    const { factory, clients } = fakeFactory();
    const api = activate(__mock.extensionContext() as never, {
      factory,
      resolve: async () => ({ command: ['python3'], source: 'default' }),
      check: async () => ({ ok: false, problem: 'not-installed', detail: "No module named 'covlens'" }),
    });
    expect(await api.ready).toBe(false);
    await settle();
    expect(clients).toHaveLength(0);
    expect(__mock.state.messages[0].message).toBe('covlens is not installed in python3. Install it with: python3 -m pip install covlens');
    expect(__mock.state.statusBarItems[0].tooltip).toContain('not installed in python3');
    expect(api.server.state).toBe('notInstalled');
  });

  it('a missing interpreter: an error that says how to choose another', async () => {
    await reportCheckFailure(python, { ok: false, problem: 'no-python', detail: '/home/me/.venv/bin/python was not found or cannot be run (ENOENT)' });
    expect(__mock.state.messages[0].message).toMatch(/could not run Python: .* was not found .*covlens\.interpreter/);
  });
});
