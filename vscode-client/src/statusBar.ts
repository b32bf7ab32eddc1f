/** The status bar item: workspace coverage, a spinner while running, failures; click to run all tests. */
import * as vscode from 'vscode';
import type { RunStatusParams } from './protocol';

/** The language server's lifecycle, as the client sees it. */
export type ServerState = 'starting' | 'running' | 'stopped' | 'untrusted' | 'notInstalled';

export interface StatusView {
  text: string;
  tooltip: string;
  command: string;
  background?: 'warning' | 'error';
}

export function formatPercent(percent: number | null | undefined): string | undefined {
  if (percent === null || percent === undefined || !Number.isFinite(percent)) return undefined;
  return `${percent.toFixed(1).replace(/\.0$/, '')}%`;
}

function failures(status: RunStatusParams): number {
  return (status.counts?.failed ?? 0) + (status.counts?.error ?? 0);
}

function outcomeSummary(status: RunStatusParams): string {
  const c = status.counts ?? {};
  const parts = (['passed', 'failed', 'error', 'skipped', 'xfailed', 'xpassed'] as const)
    .filter((k) => (c[k] ?? 0) > 0)
    .map((k) => `${c[k]} ${k}`);
  return parts.length ? parts.join(', ') : 'no tests';
}

const RUN_ALL = 'covlens.runAll';
const CLICK = 'Click to run all tests.';

/** What the status bar shows for a server state and the last `covlens/runStatus` (pure). */
export function describeStatus(server: ServerState, status?: RunStatusParams, interpreter?: string): StatusView {
  switch (server) {
    case 'untrusted':
      return {
        text: '$(shield) covlens',
        tooltip: 'covlens does not run tests in an untrusted workspace. Click to manage workspace trust.',
        command: 'workbench.trust.manage',
      };
    case 'notInstalled':
      return {
        text: '$(warning) covlens',
        tooltip: `covlens is not installed in ${interpreter ?? 'the selected Python'}. Click to show the output.`,
        command: 'covlens.showOutput',
        background: 'warning',
      };
    case 'stopped':
      return {
        text: '$(debug-disconnect) covlens',
        tooltip: 'The covlens server is not running. Click to restart it.',
        command: 'covlens.restartServer',
        background: 'warning',
      };
    case 'starting':
      return { text: '$(loading~spin) covlens', tooltip: 'covlens: starting the language server…', command: 'covlens.showOutput' };
    case 'running':
      break;
  }
  if (!status) return { text: '$(beaker) covlens', tooltip: `covlens: no run yet. ${CLICK}`, command: RUN_ALL };

  const pct = formatPercent(status.percent);
  const coverage = pct ? `${pct} of lines covered` : 'no coverage yet';
  const failed = failures(status);
  const failedText = failed > 0 ? ` $(error) ${failed}` : '';
  switch (status.state) {
    case 'running': {
      const progress =
        typeof status.total === 'number' && status.total > 0 ? ` ${status.done ?? 0}/${status.total}` : '';
      return {
        text: `$(sync~spin) covlens${progress}${failedText}`,
        tooltip: `${status.message || 'covlens: running tests…'}${failed ? ` (${failed} failed so far)` : ''}`,
        command: RUN_ALL,
      };
    }
    case 'complete':
      return {
        text: `$(beaker) ${pct ?? 'covlens'}${failedText}`,
        tooltip: `covlens: ${outcomeSummary(status)} — ${coverage}. ${CLICK}`,
        command: RUN_ALL,
        background: failed > 0 ? 'error' : undefined,
      };
    case 'cancelled':
      return {
        text: `$(circle-slash) ${pct ?? 'covlens'}`,
        tooltip: `covlens: run cancelled; lines shown are from an earlier run (faded). ${CLICK}`,
        command: RUN_ALL,
      };
    case 'timeout':
      return {
        text: '$(watch) covlens: timed out',
        tooltip: `covlens: the run took longer than the timeout and was stopped; results so far are kept. ${CLICK}`,
        command: RUN_ALL,
        background: 'warning',
      };
    case 'crashed':
      return {
        text: '$(alert) covlens: crashed',
        tooltip: `covlens: the test process crashed${status.message ? `: ${status.message}` : ''}; lines shown are from an earlier run (faded). ${CLICK}`,
        command: RUN_ALL,
        background: 'error',
      };
    case 'error':
      return {
        text: '$(error) covlens: error',
        tooltip: `covlens: ${status.message || 'the run failed to start'} — see the output. ${CLICK}`,
        command: RUN_ALL,
        background: 'error',
      };
    case 'idle':
    default:
      return { text: `$(beaker) ${pct ?? 'covlens'}`, tooltip: `covlens: ${coverage}. ${CLICK}`, command: RUN_ALL };
  }
}

export class StatusBar implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private server: ServerState = 'starting';
  private status?: RunStatusParams;
  private interpreter?: string;

  constructor() {
    this.item = vscode.window.createStatusBarItem('covlens.status', vscode.StatusBarAlignment.Left, 50);
    this.item.name = 'covlens';
    this.render();
    this.item.show();
  }

  setServerState(state: ServerState, interpreter?: string): void {
    this.server = state;
    if (interpreter !== undefined) this.interpreter = interpreter;
    this.render();
  }

  setRunStatus(status: RunStatusParams): void {
    this.status = status;
    this.render();
  }

  /** The last `covlens/runStatus` received. */
  get runStatus(): RunStatusParams | undefined {
    return this.status;
  }

  get view(): StatusView {
    return describeStatus(this.server, this.status, this.interpreter);
  }

  private render(): void {
    const view = this.view;
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = view.command;
    this.item.backgroundColor = view.background
      ? new vscode.ThemeColor(`statusBarItem.${view.background}Background`)
      : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
