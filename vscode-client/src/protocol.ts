/** The covlens wire contract (docs/protocol.md) as TypeScript types and names. */

/** Method of the per-file coverage notification. */
export const FILE_COVERAGE = 'covlens/fileCoverage';
/** Method of the run-status notification. */
export const RUN_STATUS = 'covlens/runStatus';

/** A module's decision, as the server sends it (see docs/reasons.md). */
export interface Decision {
  module: string;
  action: 'instrumented' | 'skipped' | 'failed' | string;
  reason: string;
  detail?: string;
  rule?: string | null;
}

export interface CoverageSummary {
  statements: number;
  covered: number;
  missed: number;
  percent: number | null;
}

/** Params of `covlens/fileCoverage`. Lines are 0-based. */
export interface FileCoverageParams {
  uri: string;
  version: number | null;
  covered: number[];
  missed: number[];
  partial: number[];
  excluded?: number[];
  hits?: Record<string, number>;
  decision?: Decision | null;
  summary?: CoverageSummary | null;
  stale: boolean;
  runId?: string | null;
}

export type RunState = 'idle' | 'running' | 'complete' | 'cancelled' | 'timeout' | 'crashed' | 'error';

export interface RunCounts {
  passed?: number;
  failed?: number;
  error?: number;
  skipped?: number;
  xfailed?: number;
  xpassed?: number;
}

/** Params of `covlens/runStatus`. */
export interface RunStatusParams {
  runId?: string | null;
  state: RunState;
  total?: number | null;
  done?: number | null;
  counts?: RunCounts;
  percent?: number | null;
  message?: string | null;
}

/** Commands the server answers on `workspace/executeCommand`. */
export const ServerCommand = {
  runAll: 'covlens.runAll',
  runFile: 'covlens.runFile',
  explain: 'covlens.explain',
  exportLcov: 'covlens.exportLcov',
  exportJson: 'covlens.exportJson',
  cancel: 'covlens.cancel',
} as const;

export interface RunResult {
  runId: string;
}
export interface ExplainResult {
  decision: Decision;
  explanation: string;
}
export interface ExportResult {
  path: string;
}
export interface CancelResult {
  cancelled: boolean;
}
