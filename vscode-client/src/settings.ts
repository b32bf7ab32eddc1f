/** Reads the `covlens.*` settings: those for the server (initializationOptions, workspace/configuration) and the client's own. */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DisplayMode } from './decorations';

export const SECTION = 'covlens';

/** Settings the server understands (docs/protocol.md "Settings"); only those the user set are sent. */
export interface ServerSettings {
  autoRun?: boolean;
  pytestArgs?: string[];
  debounceMs?: number;
  saveDebounceMs?: number;
  testSelection?: 'affected' | 'all';
  followUpFullRun?: boolean;
  warmWorker?: boolean;
  interpreter?: string;
  engine?: 'auto' | 'ast' | 'monitor';
  timeout?: number;
  severity?: Record<string, 'error' | 'warning' | 'information' | 'hint' | 'off'>;
  missedLinesAsHints?: boolean;
}

type Check = (value: unknown) => boolean;
const isBool: Check = (v) => typeof v === 'boolean';
const isNonNegative: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const SEVERITIES = ['error', 'warning', 'information', 'hint', 'off'];

/** Each server setting and how to tell a usable value. */
export const SERVER_SETTINGS: Record<keyof ServerSettings, Check> = {
  autoRun: isBool,
  pytestArgs: (v) => Array.isArray(v) && v.every((a) => typeof a === 'string'),
  debounceMs: isNonNegative,
  saveDebounceMs: isNonNegative,
  testSelection: (v) => v === 'affected' || v === 'all',
  followUpFullRun: isBool,
  warmWorker: isBool,
  interpreter: (v) => typeof v === 'string' && v.trim() !== '',
  engine: (v) => v === 'auto' || v === 'ast' || v === 'monitor',
  timeout: (v) => typeof v === 'number' && v > 0,
  severity: (v) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((s) => SEVERITIES.includes(s as string)),
  missedLinesAsHints: isBool,
};

function userSet<T>(config: vscode.WorkspaceConfiguration, key: string): T | undefined {
  const inspected = config.inspect<T>(key);
  if (!inspected) return undefined;
  return inspected.workspaceFolderValue ?? inspected.workspaceValue ?? inspected.globalValue;
}

/** `${workspaceFolder}`, `${userHome}` and a leading `~` in a path setting. */
export function resolveVariables(value: string, workspaceFolder?: string): string {
  let out = value.trim();
  if (workspaceFolder) out = out.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  out = out.replace(/\$\{userHome\}/g, os.homedir());
  if (out === '~' || out.startsWith('~/')) out = os.homedir() + out.slice(1);
  return out;
}

export function workspaceRoot(scope?: vscode.Uri): vscode.WorkspaceFolder | undefined {
  return (scope && vscode.workspace.getWorkspaceFolder(scope)) ?? vscode.workspace.workspaceFolders?.[0];
}

/**
 * The server settings the user set (anything left out falls back to
 * `[tool.covlens]` in pyproject.toml, then the server's defaults). Values
 * of the wrong type are left out rather than sent.
 */
export function readServerSettings(scope?: vscode.Uri): ServerSettings {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  const out: Record<string, unknown> = {};
  for (const [name, valid] of Object.entries(SERVER_SETTINGS)) {
    const value = userSet<unknown>(config, name);
    if (value !== undefined && valid(value)) out[name] = value;
  }
  if (typeof out.interpreter === 'string') {
    const folder = workspaceRoot(scope)?.uri.fsPath;
    const resolved = resolveVariables(out.interpreter, folder);
    // `.venv/bin/python` is relative to the workspace folder; a bare `python3.12` is looked up on PATH.
    out.interpreter = folder && /[\\/]/.test(resolved) && !path.isAbsolute(resolved) ? path.join(folder, resolved) : resolved;
  }
  return out as ServerSettings;
}

/** The `covlens.interpreter` setting, resolved, or undefined when unset. */
export function readInterpreterSetting(scope?: vscode.Uri): string | undefined {
  return readServerSettings(scope).interpreter;
}

export function readDisplayMode(): DisplayMode {
  const mode = vscode.workspace.getConfiguration(SECTION).get<string>('display', 'gutter');
  return mode === 'line' ? 'line' : 'gutter';
}
