/** Draws coverage in editors: decoration types made once, applied to every visible editor of a document. */
import * as vscode from 'vscode';
import { CoverageState, KINDS, linesFor, type CoverageKind, type LineSets, EMPTY_LINES } from './coverageState';

export type DisplayMode = 'gutter' | 'line';
export const DISPLAY_MODES: readonly DisplayMode[] = ['gutter', 'line'];
type Freshness = 'fresh' | 'stale';

const capital = (s: string) => s[0].toUpperCase() + s.slice(1);

/** Theme colour ids contributed in package.json `contributes.colors`. */
export function colorId(kind: CoverageKind, what: 'Background' | 'Ruler', freshness: Freshness): string {
  return freshness === 'fresh' ? `covlens.${kind}${what}` : `covlens.stale${capital(kind)}${what}`;
}

/** The gutter icon file of a kind, relative to the extension root. */
export function iconPath(kind: CoverageKind, freshness: Freshness): string[] {
  return ['resources', freshness === 'fresh' ? `${kind}.svg` : `${kind}-stale.svg`];
}

/** The decoration options of one (mode, kind, freshness); exported for tests. */
export function decorationOptions(
  extensionUri: vscode.Uri,
  mode: DisplayMode,
  kind: CoverageKind,
  freshness: Freshness,
): vscode.DecorationRenderOptions {
  const common: vscode.DecorationRenderOptions = {
    isWholeLine: true,
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    overviewRulerColor: new vscode.ThemeColor(colorId(kind, 'Ruler', freshness)),
    overviewRulerLane: vscode.OverviewRulerLane.Left,
  };
  if (mode === 'gutter') {
    return {
      ...common,
      gutterIconPath: vscode.Uri.joinPath(extensionUri, ...iconPath(kind, freshness)),
      gutterIconSize: 'contain',
    };
  }
  return { ...common, backgroundColor: new vscode.ThemeColor(colorId(kind, 'Background', freshness)) };
}

export class CoverageDecorations implements vscode.Disposable {
  private readonly types = new Map<string, vscode.TextEditorDecorationType>();
  private mode: DisplayMode;
  private visible = true;

  constructor(
    extensionUri: vscode.Uri,
    private readonly state: CoverageState,
    mode: DisplayMode = 'gutter',
  ) {
    this.mode = mode;
    // Every decoration type is created here, once, and reused for every editor and every redraw.
    for (const m of DISPLAY_MODES)
      for (const kind of KINDS)
        for (const f of ['fresh', 'stale'] as const)
          this.types.set(key(m, kind, f), vscode.window.createTextEditorDecorationType(decorationOptions(extensionUri, m, kind, f)));
  }

  get displayMode(): DisplayMode {
    return this.mode;
  }

  get isVisible(): boolean {
    return this.visible;
  }

  setMode(mode: DisplayMode): void {
    if (!DISPLAY_MODES.includes(mode) || mode === this.mode) return;
    this.mode = mode;
    this.refreshAll();
  }

  setVisible(visible: boolean): void {
    if (visible === this.visible) return;
    this.visible = visible;
    this.refreshAll();
  }

  /** The lines that `editor` shows now (what `apply` draws). */
  linesFor(editor: vscode.TextEditor): LineSets {
    if (!this.visible) return EMPTY_LINES;
    const doc = editor.document;
    const params = this.state.get(doc.uri.toString());
    return params ? linesFor(params, doc.lineCount, doc.version) : EMPTY_LINES;
  }

  /** Draws the stored coverage of the editor's document (or nothing) with the current mode. */
  apply(editor: vscode.TextEditor): void {
    const lines = this.linesFor(editor);
    for (const m of DISPLAY_MODES)
      for (const kind of KINDS)
        for (const f of ['fresh', 'stale'] as const) {
          const shown = m === this.mode && (f === 'stale') === lines.stale;
          const ranges = shown ? lines[kind].map((line) => new vscode.Range(line, 0, line, 0)) : [];
          editor.setDecorations(this.types.get(key(m, kind, f))!, ranges);
        }
  }

  /** Redraws every visible editor showing `uri` (split editors included). */
  applyToDocument(uri: string): void {
    for (const editor of vscode.window.visibleTextEditors) if (editor.document.uri.toString() === uri) this.apply(editor);
  }

  refreshAll(): void {
    for (const editor of vscode.window.visibleTextEditors) this.apply(editor);
  }

  dispose(): void {
    for (const type of this.types.values()) type.dispose();
    this.types.clear();
  }
}

function key(mode: DisplayMode, kind: CoverageKind, freshness: Freshness): string {
  return `${mode}:${kind}:${freshness}`;
}
