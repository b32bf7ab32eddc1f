/** Chooses the Python that runs `covlens serve` and checks that covlens is importable in it. */
import { execFile } from 'node:child_process';
import * as vscode from 'vscode';
import { readInterpreterSetting } from './settings';

export interface Interpreter {
  /** Executable and leading arguments (the Python extension may give e.g. `conda run -n env python`). */
  command: string[];
  source: 'setting' | 'python-extension' | 'default';
}

export const PYTHON_EXTENSION_ID = 'ms-python.python';
export const DEFAULT_PYTHON = process.platform === 'win32' ? 'python' : 'python3';

/** The parts of the Python extension's API that covlens uses (both the `environments` and the older `settings` API). */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { id: string; path: string };
    resolveEnvironment(env: { id: string; path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
  };
  settings?: {
    getExecutionDetails(resource?: vscode.Uri): { execCommand: string[] | undefined };
    onDidChangeExecutionDetails?: vscode.Event<unknown>;
  };
}

async function pythonApi(): Promise<PythonExtensionApi | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
  if (!ext) return undefined;
  try {
    return ext.isActive ? ext.exports : await ext.activate();
  } catch {
    return undefined;
  }
}

/** The Python extension's active interpreter for `resource`, if it is installed and has one. */
export async function pythonExtensionInterpreter(resource?: vscode.Uri): Promise<string[] | undefined> {
  const api = await pythonApi();
  if (!api) return undefined;
  try {
    if (api.environments) {
      const active = api.environments.getActiveEnvironmentPath(resource);
      const env = await api.environments.resolveEnvironment(active);
      const exe = env?.executable.uri?.fsPath;
      if (exe) return [exe];
    }
    const exec = api.settings?.getExecutionDetails(resource).execCommand;
    if (exec && exec.length > 0) return [...exec];
  } catch {
    // A broken or older Python extension: fall back to the default below.
  }
  return undefined;
}

/** `covlens.interpreter`, else the Python extension's active interpreter, else `python3`. */
export async function resolveInterpreter(resource?: vscode.Uri): Promise<Interpreter> {
  const setting = readInterpreterSetting(resource);
  if (setting) return { command: [setting], source: 'setting' };
  const fromExtension = await pythonExtensionInterpreter(resource);
  if (fromExtension) return { command: fromExtension, source: 'python-extension' };
  return { command: [DEFAULT_PYTHON], source: 'default' };
}

/** Calls `listener` when the Python extension's active interpreter changes. */
export async function onDidChangePythonInterpreter(listener: () => void): Promise<vscode.Disposable | undefined> {
  const api = await pythonApi();
  const event = api?.environments?.onDidChangeActiveEnvironmentPath ?? api?.settings?.onDidChangeExecutionDetails;
  return event ? event(() => listener()) : undefined;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./\\-]+$/.test(arg) ? arg : `"${arg.replace(/"/g, '\\"')}"`;
}

/** A shell command line for `command` + `args`, quoted where needed. */
export function commandLine(command: string[], args: string[] = []): string {
  const line = [...command, ...args].map(quote).join(' ');
  return process.platform === 'win32' && line.startsWith('"') ? `& ${line}` : line;
}

export function installCommand(interpreter: Interpreter): string {
  return commandLine(interpreter.command, ['-m', 'pip', 'install', 'covlens']);
}

export type CheckResult =
  | { ok: true; version: string }
  | { ok: false; problem: 'no-python' | 'not-installed' | 'broken'; detail: string };

/** Runs a program; resolves with its exit code and output (never rejects). */
export type Runner = (
  file: string,
  args: string[],
  options: { cwd?: string; timeout: number },
) => Promise<{ code: number | string | null; stdout: string; stderr: string }>;

export const runProcess: Runner = (file, args, options) =>
  new Promise((resolve) => {
    execFile(file, args, { ...options, windowsHide: true }, (error, stdout, stderr) => {
      const code = error ? ((error as NodeJS.ErrnoException).code ?? 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr || (error && !stderr ? error.message : '')) });
    });
  });

export const CHECK_SCRIPT = 'import covlens, sys; sys.stdout.write(getattr(covlens, "__version__", "unknown"))';

/** Whether `import covlens` works in the interpreter. */
export async function checkCovlens(interpreter: Interpreter, cwd?: string, run: Runner = runProcess): Promise<CheckResult> {
  const [file, ...lead] = interpreter.command;
  const result = await run(file, [...lead, '-c', CHECK_SCRIPT], { cwd, timeout: 30_000 });
  if (result.code === 0) return { ok: true, version: result.stdout.trim() || 'unknown' };
  if (result.code === 'ENOENT' || result.code === 'EACCES')
    return { ok: false, problem: 'no-python', detail: `${file} was not found or cannot be run (${result.code})` };
  if (/ModuleNotFoundError|No module named/.test(result.stderr))
    return { ok: false, problem: 'not-installed', detail: result.stderr.trim() };
  return { ok: false, problem: 'broken', detail: (result.stderr || result.stdout).trim() || `exit code ${result.code}` };
}

export const INSTALL = 'Install covlens';
export const SELECT_INTERPRETER = 'Select Interpreter';
export const OPEN_SETTINGS = 'Open Settings';
export const SHOW_OUTPUT = 'Show Output';

/** Tells the user what went wrong with the interpreter and offers the fix; returns the button chosen. */
export async function reportCheckFailure(interpreter: Interpreter, result: Exclude<CheckResult, { ok: true }>): Promise<string | undefined> {
  const python = commandLine(interpreter.command);
  const where =
    interpreter.source === 'setting'
      ? ' (setting covlens.interpreter)'
      : interpreter.source === 'python-extension'
        ? " (the Python extension's interpreter)"
        : '';
  const pythonInstalled = vscode.extensions.getExtension(PYTHON_EXTENSION_ID) !== undefined;
  const choose = pythonInstalled ? SELECT_INTERPRETER : OPEN_SETTINGS;
  let choice: string | undefined;
  if (result.problem === 'not-installed') {
    const install = installCommand(interpreter);
    choice = await vscode.window.showErrorMessage(
      `covlens is not installed in ${python}${where}. Install it with: ${install}`,
      INSTALL,
      choose,
    );
    if (choice === INSTALL) {
      const terminal = vscode.window.createTerminal({ name: 'covlens: install' });
      terminal.show();
      terminal.sendText(install);
      const next = await vscode.window.showInformationMessage(
        'When the installation has finished, restart the covlens server.',
        'Restart Server',
      );
      if (next === 'Restart Server') await vscode.commands.executeCommand('covlens.restartServer');
    }
  } else if (result.problem === 'no-python') {
    choice = await vscode.window.showErrorMessage(
      `covlens could not run Python: ${result.detail}${where}. Choose a Python 3.10+ in which covlens is installed (setting covlens.interpreter).`,
      choose,
    );
  } else {
    choice = await vscode.window.showErrorMessage(
      `covlens failed to load in ${python}${where}: ${result.detail.split('\n').pop()}`,
      SHOW_OUTPUT,
      choose,
    );
    if (choice === SHOW_OUTPUT) await vscode.commands.executeCommand('covlens.showOutput');
  }
  if (choice === SELECT_INTERPRETER) await vscode.commands.executeCommand('python.setInterpreter');
  if (choice === OPEN_SETTINGS) await vscode.commands.executeCommand('workbench.action.openSettings', 'covlens.interpreter');
  return choice;
}
