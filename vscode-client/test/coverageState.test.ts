import { describe, expect, it } from 'vitest';
import { CoverageState, linesFor, shouldAccept } from '../src/coverageState';
import { coverage } from './helpers';

describe('shouldAccept (the protocol rule for versions)', () => {
  it('keeps a notification for the current document version', () => {
    expect(shouldAccept(coverage({ version: 3 }), 3)).toBe(true);
  });
  it('drops a notification older than the document version', () => {
    expect(shouldAccept(coverage({ version: 2 }), 3)).toBe(false);
  });
  it('keeps an older notification when it is marked stale', () => {
    expect(shouldAccept(coverage({ version: 2, stale: true }), 3)).toBe(true);
  });
  it('keeps a notification without a version, and any notification for a closed document', () => {
    expect(shouldAccept(coverage({ version: null }), 9)).toBe(true);
    expect(shouldAccept(coverage({ version: 2 }), undefined)).toBe(true);
  });
});

describe('linesFor', () => {
  it('gives the covered, missed and partial lines of a notification', () => {
    expect(linesFor(coverage(), 20, 1)).toEqual({ covered: [0, 2, 3, 5], missed: [8, 9], partial: [4], stale: false });
  });
  it('drops lines past the end of the document and invalid line numbers', () => {
    const lines = linesFor(coverage({ covered: [0, 5, -1, 1.5], missed: [8, 9, 40] }), 9, 1);
    expect(lines.covered).toEqual([0, 5]);
    expect(lines.missed).toEqual([8]);
  });
  it('draws a line listed twice once: missed before partial before covered', () => {
    const lines = linesFor(coverage({ covered: [1, 2, 3], partial: [2, 3], missed: [3] }), 10);
    expect(lines).toMatchObject({ covered: [1], partial: [2], missed: [3] });
  });
  it('sorts and de-duplicates', () => {
    expect(linesFor(coverage({ covered: [5, 1, 5, 3], partial: [], missed: [] })).covered).toEqual([1, 3, 5]);
  });
  it('is stale when the server says so', () => {
    expect(linesFor(coverage({ stale: true }), 20, 1).stale).toBe(true);
  });
  it('is stale when the document was edited after the lines were computed', () => {
    expect(linesFor(coverage({ version: 1 }), 20, 2).stale).toBe(true);
    expect(linesFor(coverage({ version: null }), 20, 2).stale).toBe(false);
  });
  it('gives nothing for a module that was not instrumented', () => {
    const skipped = coverage({ covered: [], missed: [], partial: [], excluded: [] });
    expect(linesFor(skipped, 20)).toEqual({ covered: [], missed: [], partial: [], stale: false });
  });
});

describe('CoverageState', () => {
  const normalize = (uri: string) => uri.replace('file:///C%3A/', 'file:///c%3A/');

  it('keeps the latest accepted notification per file', () => {
    const state = new CoverageState();
    state.update(coverage({ runId: 'r-1' }), 1);
    state.update(coverage({ runId: 'r-2' }), 1);
    state.update(coverage({ uri: 'file:///ws/other.py' }), undefined);
    expect(state.get('file:///ws/shop/cart.py')?.runId).toBe('r-2');
    expect(state.size).toBe(2);
  });

  it('does not replace current lines with a dropped (outdated) notification', () => {
    const state = new CoverageState();
    expect(state.update(coverage({ version: 4, runId: 'new' }), 4)).toBe('file:///ws/shop/cart.py');
    expect(state.update(coverage({ version: 3, runId: 'old' }), 4)).toBeUndefined();
    expect(state.get('file:///ws/shop/cart.py')?.runId).toBe('new');
  });

  it("matches the server's URI spelling to the editor's", () => {
    const state = new CoverageState(normalize);
    expect(state.update(coverage({ uri: 'file:///C%3A/shop/cart.py' }), undefined)).toBe('file:///c%3A/shop/cart.py');
    expect(state.get('file:///c%3A/shop/cart.py')).toBeDefined();
  });

  it('marks everything stale when the server stops', () => {
    const state = new CoverageState();
    state.update(coverage(), 1);
    state.markAllStale();
    expect(state.get('file:///ws/shop/cart.py')?.stale).toBe(true);
  });

  it('ignores a malformed notification', () => {
    const state = new CoverageState();
    expect(state.update({} as never, 1)).toBeUndefined();
    expect(state.size).toBe(0);
  });
});
