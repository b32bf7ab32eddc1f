/** The palette commands: run all, run this file, explain, toggle display, export, cancel, output, restart. */
import * as vscode from 'vscode';
import type { CoverageDecorations } from './decorations';
import { ServerCommand, type CancelResult, type ExplainResult, type ExportResult } from './protocol';
import { CovlensServer, ServerNotRunningError } from './server';

/** Every command the extension contributes (package.json `contributes.commands` lists the same). */
export const Commands = {
  ...ServerCommand,
  toggleCoverage: 'covlens.toggleCoverage',
  showOutput: 'covlens.showOutput',
  restartServer: 'covlens.restartServer',
} as const;

export const VISIBLE_KEY = 'covlens.coverageVisible';

export interface CommandContext {
  server: CovlensServer;
  decorations: CoverageDecorations;
  output: vscode.OutputChannel;
  workspaceState: vscode.Memento;
}

/** A URI string from a command argument (a `Uri`, a string, an explorer item) or the active editor. */
export function targetUri(arg: unknown): string | undefined {
  if (arg instanceof vscode.Uri) return arg.toString();
  if (typeof arg === 'string' && arg) return arg;
  if (arg && typeof arg === 'object' && 'uri' in arg && (arg as { uri: unknown }).uri instanceof vscode.Uri)
    return (arg as { uri: vscode.Uri }).uri.toString();
  return vscode.window.activeTextEditor?.document.uri.toString();
}

async function reportError(command: string, error: unknown): Promise<void> {
  if (error instanceof ServerNotRunningError) {
    if (error.state === 'untrusted') {
      const choice = await vscode.window.showWarningMessage(error.message, 'Manage Workspace Trust');
      if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
    } else {
      const choice = await vscode.window.showWarningMessage(`covlens: ${error.message}`, 'Restart Server', 'Show Output');
      if (choice === 'Restart Server') await vscode.commands.executeCommand(Commands.restartServer);
      if (choice === 'Show Output') await vscode.commands.executeCommand(Commands.showOutput);
    }
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  await vscode.window.showErrorMessage(`covlens: ${command} failed: ${message}`);
}

/** Shows a markdown text in a preview beside the editor (falls back to the plain document). */
export async function showMarkdown(content: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content });
  try {
    await vscode.commands.executeCommand('markdown.showPreviewToSide', doc.uri);
  } catch {
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true });
  }
}

async function offerToOpen(kind: string, result: ExportResult | undefined): Promise<void> {
  if (!result?.path) return;
  const choice = await vscode.window.showInformationMessage(`covlens: ${kind} written to ${result.path}`, 'Open');
  if (choice === 'Open') {
    const root = vscode.workspace.workspaceFolders?.[0]?.uri;
    const uri = /^([a-zA-Z]:)?[\\/]/.test(result.path) || !root ? vscode.Uri.file(result.path) : vscode.Uri.joinPath(root, result.path);
    await vscode.window.showTextDocument(uri);
  }
}

/** Registers every command; the returned disposables unregister them. */
export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const { server, decorations, output } = ctx;
  const handlers: Record<(typeof Commands)[keyof typeof Commands], (...args: any[]) => unknown> = {
    [Commands.runAll]: () => server.executeCommand(ServerCommand.runAll),
    [Commands.runFile]: async (arg?: unknown) => {
      const uri = targetUri(arg);
      if (!uri) return vscode.window.showWarningMessage('covlens: open a Python file to run its tests.');
      return server.executeCommand(ServerCommand.runFile, [uri]);
    },
    [Commands.explain]: async (arg?: unknown) => {
      const target = targetUri(arg);
      if (!target) return vscode.window.showWarningMessage('covlens: open a Python module to explain its decision.');
      const result = await server.executeCommand<ExplainResult>(ServerCommand.explain, [target]);
      if (result?.explanation) await showMarkdown(result.explanation);
      return result;
    },
    [Commands.exportLcov]: async (path?: unknown) => {
      const result = await server.executeCommand<ExportResult>(ServerCommand.exportLcov, typeof path === 'string' ? [path] : []);
      await offerToOpen('LCOV', result);
      return result;
    },
    [Commands.exportJson]: async (path?: unknown) => {
      const result = await server.executeCommand<ExportResult>(ServerCommand.exportJson, typeof path === 'string' ? [path] : []);
      await offerToOpen('JSON coverage', result);
      return result;
    },
    [Commands.cancel]: () => server.executeCommand<CancelResult>(ServerCommand.cancel),
    [Commands.toggleCoverage]: async () => {
      const visible = !decorations.isVisible;
      decorations.setVisible(visible);
      await ctx.workspaceState.update(VISIBLE_KEY, visible);
      await vscode.commands.executeCommand('setContext', VISIBLE_KEY, visible);
      return visible;
    },
    [Commands.showOutput]: () => output.show(true),
    [Commands.restartServer]: () => server.restart(),
  };
  return Object.entries(handlers).map(([id, handler]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await handler(...args);
      } catch (error) {
        await reportError(id, error);
        return undefined;
      }
    }),
  );
}
