import { beforeEach, describe, expect, it } from 'vitest';
import { __mock, StatusBarAlignment, ThemeColor } from './mocks/vscode';
import type { RunStatusParams } from '../src/protocol';
import { describeStatus, formatPercent, StatusBar } from '../src/statusBar';

const status = (s: Partial<RunStatusParams>): RunStatusParams => ({
  runId: 'r-1',
  state: 'idle',
  total: null,
  done: null,
  counts: {},
  percent: 81.25,
  message: null,
  ...s,
});

beforeEach(() => __mock.reset());

describe('the status bar text for each run state', () => {
  it('idle: the workspace coverage, click runs all tests', () => {
    const view = describeStatus('running', status({ state: 'idle' }));
    expect(view.text).toBe('$(beaker) 81.3%');
    expect(view.command).toBe('covlens.runAll');
    expect(view.background).toBeUndefined();
  });

  it('idle before any complete run: no percentage', () => {
    expect(describeStatus('running', status({ state: 'idle', percent: null })).text).toBe('$(beaker) covlens');
    expect(describeStatus('running', undefined).text).toBe('$(beaker) covlens');
  });

  it('running with progress: a spinner and done/total', () => {
    const view = describeStatus('running', status({ state: 'running', total: 42, done: 17, message: 'Running 42 tests… 17 done' }));
    expect(view.text).toBe('$(sync~spin) covlens 17/42');
    expect(view.tooltip).toBe('Running 42 tests… 17 done');
  });

  it('running with failures so far: the failed count next to the spinner', () => {
    const view = describeStatus('running', status({ state: 'running', total: 42, done: 17, counts: { passed: 16, failed: 1 } }));
    expect(view.text).toBe('$(sync~spin) covlens 17/42 $(error) 1');
  });

  it('running before the tests are collected: a spinner only', () => {
    expect(describeStatus('running', status({ state: 'running', total: null })).text).toBe('$(sync~spin) covlens');
  });

  it('complete with failures: coverage, failed count (failed + error), error background', () => {
    const view = describeStatus('running', status({ state: 'complete', counts: { passed: 38, failed: 2, error: 1, skipped: 1 } }));
    expect(view.text).toBe('$(beaker) 81.3% $(error) 3');
    expect(view.background).toBe('error');
    expect(view.tooltip).toContain('38 passed, 2 failed, 1 error, 1 skipped');
    expect(view.tooltip).toContain('81.3% of lines covered');
    expect(view.command).toBe('covlens.runAll');
  });

  it('complete, all passed: coverage only', () => {
    const view = describeStatus('running', status({ state: 'complete', percent: 100, counts: { passed: 42 } }));
    expect(view.text).toBe('$(beaker) 100%');
    expect(view.background).toBeUndefined();
  });

  it('cancelled: says the lines shown are from an earlier run', () => {
    const view = describeStatus('running', status({ state: 'cancelled' }));
    expect(view.text).toBe('$(circle-slash) 81.3%');
    expect(view.tooltip).toContain('cancelled');
  });

  it('timeout: a warning', () => {
    const view = describeStatus('running', status({ state: 'timeout' }));
    expect(view.text).toBe('$(watch) covlens: timed out');
    expect(view.background).toBe('warning');
  });

  it('crashed: an error with the reason in the tooltip', () => {
    const view = describeStatus('running', status({ state: 'crashed', message: 'worker exited with signal 11' }));
    expect(view.text).toBe('$(alert) covlens: crashed');
    expect(view.background).toBe('error');
    expect(view.tooltip).toContain('worker exited with signal 11');
  });

  it('error: an error with the message in the tooltip', () => {
    const view = describeStatus('running', status({ state: 'error', message: 'pytest is not installed' }));
    expect(view.text).toBe('$(error) covlens: error');
    expect(view.background).toBe('error');
    expect(view.tooltip).toContain('pytest is not installed');
  });
});

describe('the status bar text for server states', () => {
  it('starting: a spinner', () => {
    expect(describeStatus('starting').text).toBe('$(loading~spin) covlens');
  });
  it('stopped: click restarts the server', () => {
    const view = describeStatus('stopped', status({ state: 'complete' }));
    expect(view.command).toBe('covlens.restartServer');
    expect(view.background).toBe('warning');
  });
  it('untrusted: a shield, click manages workspace trust', () => {
    const view = describeStatus('untrusted');
    expect(view.text).toBe('$(shield) covlens');
    expect(view.command).toBe('workbench.trust.manage');
  });
  it('covlens not installed: names the interpreter', () => {
    expect(describeStatus('notInstalled', undefined, '/usr/bin/python3').tooltip).toContain('not installed in /usr/bin/python3');
  });
});

describe('StatusBar', () => {
  it('is one visible item on the left that follows run status updates', () => {
    const bar = new StatusBar();
    const [item] = __mock.state.statusBarItems;
    expect(__mock.state.statusBarItems).toHaveLength(1);
    expect(item.alignment).toBe(StatusBarAlignment.Left);
    expect(item.visible).toBe(true);
    expect(item.text).toBe('$(loading~spin) covlens');

    bar.setServerState('running');
    bar.setRunStatus(status({ state: 'running', total: 4, done: 1 }));
    expect(item.text).toBe('$(sync~spin) covlens 1/4');
    bar.setRunStatus(status({ state: 'complete', counts: { passed: 3, failed: 1 } }));
    expect(item.text).toBe('$(beaker) 81.3% $(error) 1');
    expect(item.backgroundColor).toEqual(new ThemeColor('statusBarItem.errorBackground'));
    expect(item.command).toBe('covlens.runAll');
    bar.setRunStatus(status({ state: 'complete', counts: { passed: 4 } }));
    expect(item.backgroundColor).toBeUndefined();
    bar.dispose();
    expect(item.disposed).toBe(true);
  });
});

describe('formatPercent', () => {
  it('one decimal, none for whole numbers, nothing for null', () => {
    expect(formatPercent(66.666)).toBe('66.7%');
    expect(formatPercent(50)).toBe('50%');
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(null)).toBeUndefined();
  });
});
