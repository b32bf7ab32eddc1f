/** The language server's lifecycle: start `python -m covlens serve` with the chosen interpreter, stop, restart. */
import * as vscode from 'vscode';
import { LanguageClient, State, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { checkCovlens, commandLine, reportCheckFailure, resolveInterpreter, type CheckResult, type Interpreter } from './interpreter';
import { FILE_COVERAGE, RUN_STATUS, type FileCoverageParams, type RunStatusParams } from './protocol';
import { readServerSettings, SECTION, workspaceRoot } from './settings';
import type { ServerState } from './statusBar';

export const CLIENT_ID = 'covlens';
export const CLIENT_NAME = 'covlens';

/** The part of `LanguageClient` this module uses (so tests can give a fake). */
export interface LanguageClientLike {
  start(): Promise<void>;
  stop(timeout?: number): Promise<void>;
  onNotification(method: string, handler: (params: any) => void): vscode.Disposable;
  onDidChangeState(listener: (e: { oldState: State; newState: State }) => void): vscode.Disposable;
  sendRequest<R>(method: string, params: unknown): Promise<R>;
  sendNotification(method: string, params: unknown): Promise<void>;
}

export type ClientFactory = (serverOptions: ServerOptions, clientOptions: LanguageClientOptions) => LanguageClientLike;

/**
 * Commands that the extension registers itself (with the same ids as the
 * server's, so a code lens running `covlens.explain` shows the result). The
 * language client must not register these again when the server announces
 * them; any other server command it still forwards.
 */
export const CLIENT_OWNED_COMMANDS = new Set([
  'covlens.runAll',
  'covlens.runFile',
  'covlens.explain',
  'covlens.exportLcov',
  'covlens.exportJson',
  'covlens.cancel',
]);

interface CommandFeatureLike {
  registrationType?: { method?: string };
  register(data: { id: string; registerOptions: { commands?: string[] } }): void;
}

/** Makes the language client's executeCommand feature skip the commands the extension owns. */
export function skipOwnedCommands(feature: unknown): void {
  const f = feature as CommandFeatureLike;
  if (f?.registrationType?.method !== 'workspace/executeCommand' || typeof f.register !== 'function') return;
  const register = f.register.bind(f);
  f.register = (data) =>
    register({
      ...data,
      registerOptions: {
        ...data.registerOptions,
        commands: (data.registerOptions?.commands ?? []).filter((c) => !CLIENT_OWNED_COMMANDS.has(c)),
      },
    });
}

export const createLanguageClient: ClientFactory = (serverOptions, clientOptions) => {
  class CovlensLanguageClient extends LanguageClient {
    override registerFeature(feature: Parameters<LanguageClient['registerFeature']>[0]): void {
      skipOwnedCommands(feature);
      super.registerFeature(feature);
    }
  }
  return new CovlensLanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions) as unknown as LanguageClientLike;
};

export class ServerNotRunningError extends Error {
  constructor(readonly state: ServerState) {
    super(
      state === 'untrusted'
        ? 'covlens does not run tests in an untrusted workspace.'
        : state === 'notInstalled'
          ? 'covlens is not installed in the selected Python interpreter.'
          : state === 'starting'
            ? 'the covlens server is still starting.'
            : 'the covlens server is not running.',
    );
  }
}

export interface ServerDeps {
  output: vscode.OutputChannel;
  onFileCoverage(params: FileCoverageParams): void;
  onRunStatus(params: RunStatusParams): void;
  onStateChange(state: ServerState, interpreter?: string): void;
  factory?: ClientFactory;
  resolve?: (resource?: vscode.Uri) => Promise<Interpreter>;
  check?: (interpreter: Interpreter, cwd?: string) => Promise<CheckResult>;
  report?: (interpreter: Interpreter, result: Exclude<CheckResult, { ok: true }>) => Promise<unknown>;
}

export class CovlensServer implements vscode.Disposable {
  private client?: LanguageClientLike;
  private subscriptions: vscode.Disposable[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private current: ServerState = 'stopped';
  private interpreter?: Interpreter;

  constructor(private readonly deps: ServerDeps) {}

  get state(): ServerState {
    return this.current;
  }

  get activeInterpreter(): Interpreter | undefined {
    return this.interpreter;
  }

  /** Starts the server unless it runs already; false when it cannot (untrusted workspace, covlens missing). */
  start(): Promise<boolean> {
    return this.serialize(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.serialize(() => this.doStop());
  }

  restart(): Promise<boolean> {
    return this.serialize(async () => {
      await this.doStop();
      return this.doStart();
    });
  }

  /** Sends `workspace/executeCommand`; throws `ServerNotRunningError` when there is no running server. */
  async executeCommand<T>(command: string, args: unknown[] = []): Promise<T> {
    if (!vscode.workspace.isTrusted) throw new ServerNotRunningError('untrusted');
    if (!this.client || this.current !== 'running') throw new ServerNotRunningError(this.current);
    return this.client.sendRequest<T>('workspace/executeCommand', { command, arguments: args });
  }

  /** Tells the server its settings changed (it re-reads them with `workspace/configuration`). */
  async notifyConfigurationChanged(): Promise<void> {
    if (this.client && this.current === 'running')
      await this.client.sendNotification('workspace/didChangeConfiguration', { settings: { [SECTION]: readServerSettings() } });
  }

  private serialize<T>(job: () => Promise<T>): Promise<T> {
    const next = this.queue.then(job, job);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private setState(state: ServerState): void {
    if (state === this.current && state === 'running') return;
    this.current = state;
    this.deps.onStateChange(state, this.interpreter ? commandLine(this.interpreter.command) : undefined);
  }

  private log(message: string): void {
    this.deps.output.appendLine(`[client] ${message}`);
  }

  private async doStart(): Promise<boolean> {
    if (this.client) return true;
    if (!vscode.workspace.isTrusted) {
      this.log('The workspace is not trusted: the covlens server is not started and no tests run.');
      this.setState('untrusted');
      return false;
    }
    this.setState('starting');
    const folder = workspaceRoot();
    const cwd = folder?.uri.fsPath;
    const interpreter = await (this.deps.resolve ?? resolveInterpreter)(folder?.uri);
    this.interpreter = interpreter;
    const python = commandLine(interpreter.command);
    this.log(`Python (${interpreter.source}): ${python}`);
    const check = await (this.deps.check ?? ((i, d) => checkCovlens(i, d)))(interpreter, cwd);
    if (!check.ok) {
      this.log(`covlens cannot run in ${python}: ${check.detail}`);
      this.setState(check.problem === 'not-installed' ? 'notInstalled' : 'stopped');
      void (this.deps.report ?? reportCheckFailure)(interpreter, check);
      return false;
    }
    this.log(`covlens ${check.version}: starting ${commandLine(interpreter.command, ['-m', 'covlens', 'serve'])}`);

    const [command, ...lead] = interpreter.command;
    const serverOptions: ServerOptions = {
      command,
      args: [...lead, '-m', 'covlens', 'serve'],
      options: { cwd },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: 'file', language: 'python' },
        { scheme: 'file', pattern: '**/pyproject.toml' },
      ],
      outputChannel: this.deps.output,
      initializationOptions: () => readServerSettings(folder?.uri),
      middleware: {
        workspace: {
          // Answer the `covlens` section with the settings the user set, in the protocol's shape.
          configuration: async (params, token, next) => {
            const result = await next(params, token);
            if (!Array.isArray(result)) return result;
            return params.items.map((item, i) =>
              item.section === SECTION
                ? readServerSettings(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : folder?.uri)
                : result[i],
            );
          },
        },
      },
    };
    const client = (this.deps.factory ?? createLanguageClient)(serverOptions, clientOptions);
    this.subscriptions = [
      client.onNotification(FILE_COVERAGE, (params: FileCoverageParams) => this.deps.onFileCoverage(params)),
      client.onNotification(RUN_STATUS, (params: RunStatusParams) => this.deps.onRunStatus(params)),
      client.onDidChangeState((e) => {
        if (this.client !== client) return;
        if (e.newState === State.Running) this.setState('running');
        else if (e.newState === State.Stopped) this.setState('stopped');
      }),
    ];
    this.client = client;
    try {
      await client.start();
      this.setState('running');
      return true;
    } catch (error) {
      this.log(`The covlens server failed to start: ${error instanceof Error ? error.message : String(error)}`);
      this.disposeClient();
      this.setState('stopped');
      void vscode.window
        .showErrorMessage(`The covlens server failed to start with ${python}. See the output for its log.`, 'Show Output')
        .then((choice) => choice && this.deps.output.show(true));
      return false;
    }
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.disposeClient();
    try {
      await client.stop(2000);
    } catch (error) {
      this.log(`Stopping the server: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.setState('stopped');
  }

  private disposeClient(): void {
    for (const s of this.subscriptions) s.dispose();
    this.subscriptions = [];
    this.client = undefined;
  }

  dispose(): void {
    void this.stop();
  }
}
