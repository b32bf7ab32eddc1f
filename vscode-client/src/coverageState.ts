/** The latest `covlens/fileCoverage` per document, and the lines each decoration kind covers (pure logic). */
import type { FileCoverageParams } from './protocol';

export const KINDS = ['covered', 'missed', 'partial'] as const;
export type CoverageKind = (typeof KINDS)[number];

/** The 0-based lines to draw for each kind, and whether to draw them faded. */
export interface LineSets {
  covered: number[];
  missed: number[];
  partial: number[];
  stale: boolean;
}

export const EMPTY_LINES: LineSets = Object.freeze({ covered: [], missed: [], partial: [], stale: false }) as LineSets;

/**
 * The protocol's rule: drop a notification whose version is older than the
 * document's current version, unless it is marked stale. A notification with
 * no version (the server saw no open document) or for a document that is not
 * open is always kept.
 */
export function shouldAccept(params: FileCoverageParams, documentVersion: number | undefined): boolean {
  if (params.stale) return true;
  if (params.version === null || params.version === undefined || documentVersion === undefined) return true;
  return params.version >= documentVersion;
}

/**
 * Lines per kind for a document with `lineCount` lines at `documentVersion`.
 * Lines outside the document are dropped; a line listed under several kinds
 * is drawn once, as missed before partial before covered. Coverage of an
 * older version of the document (the user typed since) is drawn stale.
 */
export function linesFor(
  params: FileCoverageParams,
  lineCount: number = Number.MAX_SAFE_INTEGER,
  documentVersion?: number,
): LineSets {
  const valid = (line: unknown): line is number =>
    typeof line === 'number' && Number.isInteger(line) && line >= 0 && line < lineCount;
  const missed = new Set((params.missed ?? []).filter(valid));
  const partial = new Set((params.partial ?? []).filter((l) => valid(l) && !missed.has(l)));
  const covered = new Set((params.covered ?? []).filter((l) => valid(l) && !missed.has(l) && !partial.has(l)));
  const outdated =
    params.version !== null &&
    params.version !== undefined &&
    documentVersion !== undefined &&
    documentVersion > params.version;
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  return {
    covered: sorted(covered),
    missed: sorted(missed),
    partial: sorted(partial),
    stale: Boolean(params.stale) || outdated,
  };
}

/** Keeps the latest accepted coverage of every file, keyed by normalized URI. */
export class CoverageState {
  private readonly byUri = new Map<string, FileCoverageParams>();

  /** `normalize` maps the server's URI spelling to the editor's (e.g. `vscode.Uri.parse(u).toString()`). */
  constructor(private readonly normalize: (uri: string) => string = (uri) => uri) {}

  /**
   * Stores `params` unless the protocol says to drop it; returns the
   * normalized URI when stored, `undefined` when dropped.
   */
  update(params: FileCoverageParams, documentVersion: number | undefined): string | undefined {
    if (!params || typeof params.uri !== 'string') return undefined;
    if (!shouldAccept(params, documentVersion)) return undefined;
    const key = this.normalize(params.uri);
    this.byUri.set(key, params);
    return key;
  }

  get(uri: string): FileCoverageParams | undefined {
    return this.byUri.get(this.normalize(uri));
  }

  uris(): string[] {
    return [...this.byUri.keys()];
  }

  /** Marks everything stale (the server stopped: what is shown is from an earlier run). */
  markAllStale(): void {
    for (const [key, params] of this.byUri) this.byUri.set(key, { ...params, stale: true });
  }

  clear(): void {
    this.byUri.clear();
  }

  get size(): number {
    return this.byUri.size;
  }
}
