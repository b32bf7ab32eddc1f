/** Test helpers: a fake language client, a fileCoverage builder, the manifest. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Disposable } from './mocks/vscode';
import type { LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import type { FileCoverageParams } from '../src/protocol';
import type { ClientFactory, LanguageClientLike } from '../src/server';

export const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '..', 'package.json'), 'utf8'));

export function coverage(overrides: Partial<FileCoverageParams> = {}): FileCoverageParams {
  return {
    uri: 'file:///ws/shop/cart.py',
    version: 1,
    covered: [0, 2, 3, 5],
    missed: [8, 9],
    partial: [4],
    excluded: [12],
    hits: { '0': 4, '2': 4, '3': 1, '4': 1, '5': 2 },
    decision: { module: 'shop.cart', action: 'instrumented', reason: 'source', detail: 'under src/' },
    summary: { statements: 7, covered: 5, missed: 2, percent: 71.43 },
    stale: false,
    runId: 'r-1',
    ...overrides,
  };
}

/** Records what the extension does with a language client; `emit` plays a server notification. */
export class FakeClient implements LanguageClientLike {
  started = 0;
  stopped = 0;
  requests: { method: string; params: any }[] = [];
  notifications: { method: string; params: any }[] = [];
  responses = new Map<string, unknown>();
  failStart?: Error;
  private handlers = new Map<string, ((params: any) => void)[]>();
  private stateListeners: ((e: { oldState: number; newState: number }) => void)[] = [];

  constructor(
    readonly serverOptions: ServerOptions,
    readonly clientOptions: LanguageClientOptions,
  ) {}

  async start(): Promise<void> {
    this.started++;
    if (this.failStart) throw this.failStart;
    this.stateListeners.forEach((l) => l({ oldState: 3, newState: 2 }));
  }
  async stop(): Promise<void> {
    this.stopped++;
  }
  onNotification(method: string, handler: (params: any) => void) {
    this.handlers.set(method, [...(this.handlers.get(method) ?? []), handler]);
    return new Disposable(() => this.handlers.set(method, (this.handlers.get(method) ?? []).filter((h) => h !== handler)));
  }
  onDidChangeState(listener: (e: { oldState: number; newState: number }) => void) {
    this.stateListeners.push(listener);
    return new Disposable(() => (this.stateListeners = this.stateListeners.filter((l) => l !== listener)));
  }
  async sendRequest<R>(method: string, params: any): Promise<R> {
    this.requests.push({ method, params });
    return (this.responses.get(params?.command ?? method) ?? {}) as R;
  }
  async sendNotification(method: string, params: unknown): Promise<void> {
    this.notifications.push({ method, params });
  }
  /** A notification from the server. */
  emit(method: string, params: unknown): void {
    for (const h of this.handlers.get(method) ?? []) h(params);
  }
  /** The server process died (the client gave up restarting it). */
  die(): void {
    this.stateListeners.forEach((l) => l({ oldState: 2, newState: 1 }));
  }
}

export function fakeFactory(): { factory: ClientFactory; clients: FakeClient[] } {
  const clients: FakeClient[] = [];
  const factory: ClientFactory = (serverOptions, clientOptions) => {
    const client = new FakeClient(serverOptions, clientOptions);
    clients.push(client);
    return client;
  };
  return { factory, clients };
}

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}
