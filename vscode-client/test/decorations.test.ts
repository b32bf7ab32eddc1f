import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import * as vscode from 'vscode';
import { __mock, TextEditor, TextEditorDecorationType, ThemeColor, Uri, ViewColumn } from './mocks/vscode';
import { CoverageState, KINDS } from '../src/coverageState';
import { colorId, CoverageDecorations, iconPath } from '../src/decorations';
import { coverage, manifest } from './helpers';

const CART = '/ws/shop/cart.py';

/** The lines an editor shows for each decoration, by `mode:kind:freshness`, only non-empty ones. */
function drawn(editor: TextEditor): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [type, ranges] of editor.decorations) {
    if (!ranges.length) continue;
    const o = type.options as any;
    const mode = o.gutterIconPath ? 'gutter' : 'line';
    const colour: string = o.overviewRulerColor.id;
    const stale = colour.includes('.stale');
    const kind = KINDS.find((k) => colour.toLowerCase().includes(k))!;
    out[`${mode}:${kind}:${stale ? 'stale' : 'fresh'}`] = ranges.map((r) => {
      expect(r.start.line).toBe(r.end.line);
      return r.start.line;
    });
  }
  return out;
}

function setup(mode: 'gutter' | 'line' = 'gutter') {
  const state = new CoverageState((u) => Uri.parse(u).toString());
  const decorations = new CoverageDecorations(Uri.file('/ext'), state, mode);
  /** What the extension does with a notification. */
  const receive = (params = coverage()) => {
    const key = state.update(params, vscode.workspace.textDocuments.find((d) => d.uri.toString() === Uri.parse(params.uri).toString())?.version);
    if (key) decorations.applyToDocument(key);
    return key;
  };
  return { state, decorations, receive };
}

beforeEach(() => __mock.reset());

describe('a covlens/fileCoverage notification', () => {
  it('becomes gutter decorations per type: covered, missed, partial', () => {
    const [editor] = __mock.openEditor(CART, 20);
    setup().receive();
    expect(drawn(editor)).toEqual({
      'gutter:covered:fresh': [0, 2, 3, 5],
      'gutter:missed:fresh': [8, 9],
      'gutter:partial:fresh': [4],
    });
  });

  it('uses whole-line decorations with a gutter icon and an overview ruler mark in theme colours', () => {
    const [editor] = __mock.openEditor(CART, 20);
    setup().receive();
    const covered = [...editor.decorations.entries()].find(([, r]) => r.length === 4)![0].options as any;
    expect(covered.isWholeLine).toBe(true);
    expect(covered.gutterIconPath.path).toBe('/ext/resources/covered.svg');
    expect(covered.overviewRulerColor).toEqual(new ThemeColor('covlens.coveredRuler'));
    expect(covered.overviewRulerLane).toBe(vscode.OverviewRulerLane.Left);
    expect(covered.backgroundColor).toBeUndefined();
  });

  it('is drawn faded (stale icons and colours) when marked stale', () => {
    const [editor] = __mock.openEditor(CART, 20);
    setup().receive(coverage({ stale: true }));
    expect(drawn(editor)).toEqual({
      'gutter:covered:stale': [0, 2, 3, 5],
      'gutter:missed:stale': [8, 9],
      'gutter:partial:stale': [4],
    });
    const staleType = [...editor.decorations.entries()].find(([, r]) => r.length === 2)![0].options as any;
    expect(staleType.gutterIconPath.path).toBe('/ext/resources/missed-stale.svg');
    expect(staleType.overviewRulerColor.id).toBe('covlens.staleMissedRuler');
  });

  it('in line-highlight mode colours the line background and leaves the gutter free for breakpoints', () => {
    const [editor] = __mock.openEditor(CART, 20);
    setup('line').receive();
    expect(drawn(editor)).toEqual({
      'line:covered:fresh': [0, 2, 3, 5],
      'line:missed:fresh': [8, 9],
      'line:partial:fresh': [4],
    });
    for (const [type, ranges] of editor.decorations) {
      if (!ranges.length) continue;
      expect((type.options as any).gutterIconPath).toBeUndefined();
      expect((type.options as any).backgroundColor).toBeInstanceOf(ThemeColor);
    }
  });

  it('in line-highlight mode draws stale lines with the stale background colours', () => {
    const [editor] = __mock.openEditor(CART, 20);
    setup('line').receive(coverage({ stale: true }));
    const missed = [...editor.decorations.entries()].find(([, r]) => r.length === 2)![0].options as any;
    expect(missed.backgroundColor.id).toBe('covlens.staleMissedBackground');
    expect(Object.keys(drawn(editor))).toEqual(['line:covered:stale', 'line:missed:stale', 'line:partial:stale']);
  });

  it('replaces the previous lines of the file instead of adding to them', () => {
    const [editor] = __mock.openEditor(CART, 20);
    const { receive } = setup();
    receive();
    receive(coverage({ covered: [1], missed: [], partial: [] }));
    expect(drawn(editor)).toEqual({ 'gutter:covered:fresh': [1] });
  });

  it('older than the open document is dropped, and what is drawn stays', () => {
    const [editor] = __mock.openEditor(CART, 20);
    editor.document.version = 5;
    const { receive } = setup();
    receive(coverage({ version: 5 }));
    expect(receive(coverage({ version: 4, covered: [7], missed: [], partial: [] }))).toBeUndefined();
    expect(drawn(editor)['gutter:covered:fresh']).toEqual([0, 2, 3, 5]);
  });

  it('older but marked stale is drawn faded (lines moved by unsaved edits)', () => {
    const [editor] = __mock.openEditor(CART, 20);
    editor.document.version = 5;
    setup().receive(coverage({ version: 4, stale: true, covered: [1, 2] }));
    expect(drawn(editor)['gutter:covered:stale']).toEqual([1, 2]);
  });

  it('of another file leaves this editor alone', () => {
    const [editor] = __mock.openEditor(CART, 20);
    setup().receive(coverage({ uri: 'file:///ws/shop/other.py' }));
    expect(editor.setDecorationsCalls).toBe(0);
  });

  it("matches the editor's document when the server spells the URI differently", () => {
    const [editor] = __mock.openEditor('/ws/my shop/cart.py', 20);
    setup().receive(coverage({ uri: 'file:///ws/my%20shop/cart.py' }));
    expect(drawn(editor)['gutter:missed:fresh']).toEqual([8, 9]);
  });
});

describe('decorations follow the editor', () => {
  it('draw in every split editor of the document', () => {
    const editors = __mock.openEditor(CART, 20, [ViewColumn.One, ViewColumn.Two]);
    setup().receive();
    for (const editor of editors) expect(drawn(editor)['gutter:missed:fresh']).toEqual([8, 9]);
  });

  it('are redrawn on a tab switch and when a closed file is reopened', () => {
    const { receive, decorations } = setup();
    receive(); // the file is not open: kept for later
    const [editor] = __mock.openEditor(CART, 20);
    decorations.refreshAll(); // what the extension does on onDidChangeVisibleTextEditors
    expect(drawn(editor)['gutter:covered:fresh']).toEqual([0, 2, 3, 5]);

    __mock.closeDocument(editor.document);
    const [reopened] = __mock.openEditor(CART, 20);
    decorations.refreshAll();
    expect(drawn(reopened)['gutter:partial:fresh']).toEqual([4]);
  });

  it('are drawn stale when the document was edited after the run', () => {
    const [editor] = __mock.openEditor(CART, 20);
    const { receive, decorations } = setup();
    receive(coverage({ version: 1 }));
    editor.document.version = 2;
    decorations.apply(editor as unknown as vscode.TextEditor);
    expect(Object.keys(drawn(editor))).toEqual(['gutter:covered:stale', 'gutter:missed:stale', 'gutter:partial:stale']);
  });

  it('switch between gutter and line mode without leftovers', () => {
    const [editor] = __mock.openEditor(CART, 20);
    const { receive, decorations } = setup();
    receive();
    decorations.setMode('line');
    expect(Object.keys(drawn(editor))).toEqual(['line:covered:fresh', 'line:missed:fresh', 'line:partial:fresh']);
    decorations.setMode('gutter');
    expect(Object.keys(drawn(editor))).toEqual(['gutter:covered:fresh', 'gutter:missed:fresh', 'gutter:partial:fresh']);
  });

  it('are hidden and shown again by the toggle', () => {
    const [editor] = __mock.openEditor(CART, 20);
    const { receive, decorations } = setup();
    receive();
    decorations.setVisible(false);
    expect(drawn(editor)).toEqual({});
    receive(coverage({ runId: 'r-2' }));
    expect(drawn(editor)).toEqual({});
    decorations.setVisible(true);
    expect(drawn(editor)['gutter:missed:fresh']).toEqual([8, 9]);
  });
});

describe('decoration types', () => {
  it('are created once and reused for every editor, redraw and mode switch', () => {
    const { receive, decorations } = setup();
    const created = TextEditorDecorationType.created;
    expect(created).toBe(12); // 2 modes × 3 kinds × fresh/stale
    for (let i = 0; i < 5; i++) {
      __mock.openEditor(`/ws/f${i}.py`, 20, [ViewColumn.One, ViewColumn.Two]);
      receive(coverage({ uri: `file:///ws/f${i}.py` }));
      decorations.setMode(i % 2 ? 'gutter' : 'line');
      decorations.refreshAll();
    }
    expect(TextEditorDecorationType.created).toBe(created);
  });

  it('are disposed with the decorations', () => {
    const { decorations } = setup();
    decorations.dispose();
    expect(__mock.state.decorationTypes.every((t) => t.disposed)).toBe(true);
  });

  it('use only theme colours contributed in package.json, and icon files that exist', () => {
    setup();
    const contributed = new Set(manifest.contributes.colors.map((c: { id: string }) => c.id));
    const used = new Set<string>();
    for (const type of __mock.state.decorationTypes) {
      const o = type.options as any;
      for (const v of Object.values(o)) if (v instanceof ThemeColor) used.add(v.id);
      if (o.gutterIconPath) expect(existsSync(path.join(__dirname, '..', o.gutterIconPath.path.replace('/ext/', '')))).toBe(true);
    }
    expect([...used].sort()).toEqual([...contributed].sort());
    for (const kind of KINDS) {
      expect(contributed.has(colorId(kind, 'Background', 'stale'))).toBe(true);
      expect(iconPath(kind, 'stale')[1]).toBe(`${kind}-stale.svg`);
    }
  });

  it('contributed colours have defaults for dark, light and high-contrast themes', () => {
    for (const colour of manifest.contributes.colors)
      expect(Object.keys(colour.defaults).sort()).toEqual(['dark', 'highContrast', 'highContrastLight', 'light']);
  });
});
