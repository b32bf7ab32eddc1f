/** Entry point: wires the server, coverage state, decorations, status bar and commands together. */
import * as vscode from 'vscode';
import { registerCommands, VISIBLE_KEY } from './commands';
import { CoverageState } from './coverageState';
import { CoverageDecorations } from './decorations';
import { onDidChangePythonInterpreter } from './interpreter';
import { FILE_COVERAGE, type FileCoverageParams } from './protocol';
import { CovlensServer, type ServerDeps } from './server';
import { readDisplayMode, readInterpreterSetting, SECTION } from './settings';
import { StatusBar } from './statusBar';

export interface CovlensApi {
  state: CoverageState;
  decorations: CoverageDecorations;
  statusBar: StatusBar;
  server: CovlensServer;
  output: vscode.OutputChannel;
  /** Settles when the first start of the server has finished (or was refused). */
  ready: Promise<boolean>;
}

let api: CovlensApi | undefined;

/**
 * VS Code calls this with the context only; tests also pass `overrides` to
 * replace the language client factory or the interpreter check.
 */
export function activate(context: vscode.ExtensionContext, overrides: Partial<ServerDeps> = {}): CovlensApi {
  const output = vscode.window.createOutputChannel('covlens', { log: true });
  const state = new CoverageState((uri) => vscode.Uri.parse(uri).toString());
  const decorations = new CoverageDecorations(context.extensionUri, state, readDisplayMode());
  const visible = context.workspaceState.get<boolean>(VISIBLE_KEY, true);
  decorations.setVisible(visible);
  void vscode.commands.executeCommand('setContext', VISIBLE_KEY, visible);
  const statusBar = new StatusBar();

  const onFileCoverage = (params: FileCoverageParams): void => {
    let uri: string;
    try {
      uri = vscode.Uri.parse(params.uri).toString();
    } catch {
      output.appendLine(`[client] Ignored a ${FILE_COVERAGE} notification with a bad uri: ${JSON.stringify(params?.uri)}`);
      return;
    }
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
    const key = state.update(params, doc?.version);
    if (key) decorations.applyToDocument(key);
  };
  const server = new CovlensServer({
    output,
    onFileCoverage,
    onRunStatus: (status) => statusBar.setRunStatus(status),
    onStateChange: (serverState, interpreter) => {
      statusBar.setServerState(serverState, interpreter);
      if (serverState === 'stopped') {
        // What is on screen now comes from an earlier server: draw it faded.
        state.markAllStale();
        decorations.refreshAll();
      }
    },
    ...overrides,
  });

  context.subscriptions.push(
    output,
    decorations,
    statusBar,
    server,
    ...registerCommands({ server, decorations, output, workspaceState: context.workspaceState }),
    // Tab switches, split editors and reopened files: draw the latest coverage of each visible editor.
    vscode.window.onDidChangeVisibleTextEditors(() => decorations.refreshAll()),
    vscode.window.onDidChangeActiveTextEditor((editor) => editor && decorations.apply(editor)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      if (e.affectsConfiguration(`${SECTION}.display`)) decorations.setMode(readDisplayMode());
      if (e.affectsConfiguration(`${SECTION}.interpreter`)) void server.restart();
      else void server.notifyConfigurationChanged();
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void server.start()),
  );
  void onDidChangePythonInterpreter(() => {
    if (!readInterpreterSetting()) void server.restart();
  }).then((d) => d && context.subscriptions.push(d));

  const ready = server.start().catch((error: unknown) => {
    output.appendLine(`[client] Starting the server failed: ${error instanceof Error ? error.message : String(error)}`);
    statusBar.setServerState('stopped');
    return false;
  });
  api = { state, decorations, statusBar, server, output, ready };
  return api;
}

export async function deactivate(): Promise<void> {
  const current = api;
  api = undefined;
  await current?.server.stop();
}
