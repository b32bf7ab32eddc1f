/**
 * A mock of the `vscode` module, faithful where covlens depends on behaviour:
 * commands refuse a duplicate id, `Uri.parse(...).toString()` normalizes like
 * VS Code's (lower-case drive letter, percent-encoding), configuration has
 * `inspect`, editors record every `setDecorations` call. `__mock` drives and
 * inspects it from tests; `__mock.reset()` restores a fresh window/workspace.
 */
import * as path from 'node:path';

type Listener<T> = (e: T) => unknown;

export class Disposable {
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((i) => i.dispose()));
  }
  private done = false;
  constructor(private readonly callOnDispose: () => unknown) {}
  dispose(): void {
    if (this.done) return;
    this.done = true;
    this.callOnDispose();
  }
}

export type Event<T> = (listener: Listener<T>, thisArgs?: unknown, disposables?: Disposable[]) => Disposable;

export class EventEmitter<T> {
  private listeners = new Set<Listener<T>>();
  readonly event: Event<T> = (listener, thisArgs, disposables) => {
    const bound: Listener<T> = (e) => listener.call(thisArgs, e);
    this.listeners.add(bound);
    const d = new Disposable(() => this.listeners.delete(bound));
    disposables?.push(d);
    return d;
  };
  fire(data: T): void {
    for (const l of [...this.listeners]) l(data);
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
  dispose(): void {
    this.listeners.clear();
  }
}

/** Percent-encodes each path segment, as VS Code's `Uri.toString()` does (`:` included: `/c%3A/x`). */
function encodePath(p: string): string {
  return p
    .split('/')
    .map((seg) => encodeURIComponent(seg))
    .join('/');
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly authority: string,
    readonly path: string,
    readonly query: string,
    readonly fragment: string,
  ) {}

  static parse(value: string): Uri {
    const m = /^([a-zA-Z][\w+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/.exec(value);
    if (!m) throw new Error(`[UriError]: cannot parse ${value}`);
    let p = decodeURIComponent(m[3] ?? '');
    // VS Code normalizes a Windows drive letter to lower case.
    p = p.replace(/^\/([A-Z]):/, (_, d: string) => `/${d.toLowerCase()}:`);
    return new Uri(m[1].toLowerCase(), m[2] ?? '', p, m[4] ?? '', m[5] ?? '');
  }

  static file(fsPath: string): Uri {
    let p = fsPath.replace(/\\/g, '/');
    if (!p.startsWith('/')) p = `/${p}`;
    p = p.replace(/^\/([A-Z]):/, (_, d: string) => `/${d.toLowerCase()}:`);
    return new Uri('file', '', p, '', '');
  }

  static joinPath(base: Uri, ...segments: string[]): Uri {
    return base.with({ path: path.posix.join(base.path, ...segments) });
  }

  static from(c: { scheme: string; authority?: string; path?: string; query?: string; fragment?: string }): Uri {
    return new Uri(c.scheme, c.authority ?? '', c.path ?? '', c.query ?? '', c.fragment ?? '');
  }

  get fsPath(): string {
    return this.path.replace(/^\/([a-z]):/, '$1:');
  }

  with(change: { scheme?: string; authority?: string; path?: string; query?: string; fragment?: string }): Uri {
    return new Uri(
      change.scheme ?? this.scheme,
      change.authority ?? this.authority,
      change.path ?? this.path,
      change.query ?? this.query,
      change.fragment ?? this.fragment,
    );
  }

  toString(): string {
    const encodedPath = encodePath(this.path);
    return `${this.scheme}:${this.scheme === 'file' || this.authority ? `//${this.authority}` : ''}${encodedPath}${
      this.query ? `?${this.query}` : ''
    }${this.fragment ? `#${this.fragment}` : ''}`;
  }

  toJSON(): unknown {
    return { scheme: this.scheme, path: this.path };
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {
    if (line < 0 || character < 0) throw new Error('Illegal argument: line/character must be non-negative');
  }
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(startLine: number | Position, startChar: number | Position, endLine?: number, endChar?: number) {
    if (startLine instanceof Position && startChar instanceof Position) {
      this.start = startLine;
      this.end = startChar;
    } else {
      this.start = new Position(startLine as number, startChar as number);
      this.end = new Position(endLine as number, endChar as number);
    }
  }
  get isEmpty(): boolean {
    return this.start.line === this.end.line && this.start.character === this.end.character;
  }
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class ThemeIcon {
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}

export class MarkdownString {
  constructor(public value = '') {}
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}
export enum OverviewRulerLane {
  Left = 1,
  Center = 2,
  Right = 4,
  Full = 7,
}
export enum DecorationRangeBehavior {
  OpenOpen = 0,
  ClosedClosed = 1,
  OpenClosed = 2,
  ClosedOpen = 3,
}
export enum ViewColumn {
  Active = -1,
  Beside = -2,
  One = 1,
  Two = 2,
}
export enum ConfigurationTarget {
  Global = 1,
  Workspace = 2,
  WorkspaceFolder = 3,
}
export enum ExtensionMode {
  Production = 1,
  Development = 2,
  Test = 3,
}


// ---------------------------------------------------------------- plain API classes (what the language client extends or builds)

export enum DiagnosticSeverity {
  Error = 0,
  Warning = 1,
  Information = 2,
  Hint = 3,
}
export enum DiagnosticTag {
  Unnecessary = 1,
  Deprecated = 2,
}
export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}
export enum FileType {
  Unknown = 0,
  File = 1,
  Directory = 2,
  SymbolicLink = 64,
}
export enum TextDocumentSaveReason {
  Manual = 1,
  AfterDelay = 2,
  FocusOut = 3,
}

export class Location {
  constructor(
    readonly uri: Uri,
    readonly range: Range | Position,
  ) {}
}
export class DiagnosticRelatedInformation {
  constructor(
    readonly location: Location,
    readonly message: string,
  ) {}
}
export class Diagnostic {
  source?: string;
  code?: string | number | { value: string | number; target: Uri };
  relatedInformation?: DiagnosticRelatedInformation[];
  tags?: DiagnosticTag[];
  constructor(
    readonly range: Range,
    readonly message: string,
    readonly severity: DiagnosticSeverity = DiagnosticSeverity.Error,
  ) {}
}
export class CancellationError extends Error {
  constructor() {
    super('Canceled');
    this.name = 'Canceled';
  }
}
export class CancellationTokenSource {
  private emitter = new EventEmitter<void>();
  readonly token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
  cancel(): void {
    if (this.token.isCancellationRequested) return;
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }
  dispose(): void {
    this.emitter.dispose();
  }
}
export class CodeLens {
  constructor(
    public range: Range,
    public command?: { title: string; command: string; arguments?: unknown[] },
  ) {}
}
export class CompletionItem {
  constructor(
    public label: string,
    public kind?: number,
  ) {}
}
export class CodeAction {
  constructor(
    public title: string,
    public kind?: unknown,
  ) {}
}
export class CodeActionKind {
  static readonly Empty = new CodeActionKind('');
  static readonly QuickFix = new CodeActionKind('quickfix');
  static readonly Refactor = new CodeActionKind('refactor');
  static readonly RefactorExtract = new CodeActionKind('refactor.extract');
  static readonly RefactorInline = new CodeActionKind('refactor.inline');
  static readonly RefactorRewrite = new CodeActionKind('refactor.rewrite');
  static readonly Source = new CodeActionKind('source');
  static readonly SourceOrganizeImports = new CodeActionKind('source.organizeImports');
  static readonly SourceFixAll = new CodeActionKind('source.fixAll');
  constructor(readonly value: string) {}
  append(part: string): CodeActionKind {
    return new CodeActionKind(this.value ? `${this.value}.${part}` : part);
  }
}
export class DocumentLink {
  constructor(
    public range: Range,
    public target?: Uri,
  ) {}
}
export class InlayHint {
  constructor(
    public position: Position,
    public label: string,
  ) {}
}
export class SymbolInformation {
  constructor(
    public name: string,
    public kind: number,
    public containerName: string,
    public location: Location,
  ) {}
}
export class CallHierarchyItem {
  constructor(
    public kind: number,
    public name: string,
    public detail: string,
    public uri: Uri,
    public range: Range,
    public selectionRange: Range,
  ) {}
}
export class TypeHierarchyItem extends CallHierarchyItem {}
export class Hover {
  constructor(
    public contents: unknown,
    public range?: Range,
  ) {}
}
export class TextEdit {
  constructor(
    public range: Range,
    public newText: string,
  ) {}
}
export class WorkspaceEdit {
  readonly edits: unknown[] = [];
}
export class RelativePattern {
  constructor(
    readonly base: Uri | string,
    readonly pattern: string,
  ) {}
}
export class TabInputText {
  constructor(readonly uri: Uri) {}
}
export class TabInputTextDiff {
  constructor(
    readonly original: Uri,
    readonly modified: Uri,
  ) {}
}
export class TabInputCustom {
  constructor(
    readonly uri: Uri,
    readonly viewType: string,
  ) {}
}

/** Diagnostics published through `languages.createDiagnosticCollection`, by collection name and URI. */
export class DiagnosticCollection {
  readonly entries = new Map<string, readonly Diagnostic[]>();
  constructor(readonly name: string) {}
  set(uri: Uri, diagnostics: readonly Diagnostic[] | undefined): void {
    if (diagnostics) this.entries.set(uri.toString(), diagnostics);
    else this.entries.delete(uri.toString());
  }
  get(uri: Uri): readonly Diagnostic[] | undefined {
    return this.entries.get(uri.toString());
  }
  has(uri: Uri): boolean {
    return this.entries.has(uri.toString());
  }
  delete(uri: Uri): void {
    this.entries.delete(uri.toString());
  }
  clear(): void {
    this.entries.clear();
  }
  forEach(callback: (uri: Uri, diagnostics: readonly Diagnostic[]) => void): void {
    for (const [uri, d] of this.entries) callback(Uri.parse(uri), d);
  }
  dispose(): void {
    this.entries.clear();
  }
}

/**
 * Namespaces answer what the mock does not model the way VS Code would for an
 * extension that never fires it: `onDid…`/`onWill…` events that never fire and
 * `register…` functions that return a disposable. Anything else missing is
 * `undefined`, as a typo would be.
 */
function withFallbacks<T extends object>(namespace: T): T {
  const never: Event<unknown> = () => new Disposable(() => undefined);
  return new Proxy(namespace, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && !(prop in target)) {
        if (/^on(Did|Will)[A-Z]/.test(prop)) return never;
        if (/^register[A-Z]/.test(prop)) return () => new Disposable(() => undefined);
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

// ---------------------------------------------------------------- documents & editors

export class TextDocument {
  version = 1;
  isClosed = false;
  isDirty = false;
  readonly eol = 1; // EndOfLine.LF
  private lines: string[];
  /** `content`: the text, or a number of empty lines. */
  constructor(
    readonly uri: Uri,
    content: number | string,
    readonly languageId = 'python',
  ) {
    this.lines = typeof content === 'number' ? Array.from({ length: Math.max(1, content) }, () => '') : content.split('\n');
  }
  get lineCount(): number {
    return this.lines.length;
  }
  get fileName(): string {
    return this.uri.fsPath;
  }
  get isUntitled(): boolean {
    return this.uri.scheme === 'untitled';
  }
  getText(): string {
    return this.lines.join('\n');
  }
  lineAt(line: number): { lineNumber: number; text: string; range: Range } {
    const text = this.lines[line] ?? '';
    return { lineNumber: line, text, range: new Range(line, 0, line, text.length) };
  }
  /** An edit by the user: new text, next version. */
  edit(text: string): void {
    this.lines = text.split('\n');
    this.version++;
    this.isDirty = true;
  }
}

export class TextEditorDecorationType {
  static created = 0;
  disposed = false;
  readonly key: string;
  constructor(readonly options: Record<string, unknown>) {
    this.key = `TextEditorDecorationType${++TextEditorDecorationType.created}`;
  }
  dispose(): void {
    this.disposed = true;
  }
}

export class TextEditor {
  /** The ranges of every decoration type, as last set. */
  readonly decorations = new Map<TextEditorDecorationType, Range[]>();
  setDecorationsCalls = 0;
  constructor(
    readonly document: TextDocument,
    readonly viewColumn: ViewColumn = ViewColumn.One,
  ) {}
  setDecorations(type: TextEditorDecorationType, ranges: Range[]): void {
    if (type.disposed) throw new Error('setDecorations with a disposed decoration type');
    this.setDecorationsCalls++;
    this.decorations.set(type, [...ranges]);
  }
}

// ---------------------------------------------------------------- status bar, output, terminal

export class StatusBarItem {
  text = '';
  tooltip: string | MarkdownString | undefined;
  command: string | { command: string } | undefined;
  backgroundColor: ThemeColor | undefined;
  name: string | undefined;
  visible = false;
  disposed = false;
  constructor(
    readonly id: string | undefined,
    readonly alignment: StatusBarAlignment,
    readonly priority?: number,
  ) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.disposed = true;
  }
}

export class OutputChannel {
  lines: string[] = [];
  shown = false;
  constructor(readonly name: string) {}
  append(value: string): void {
    this.lines.push(value);
  }
  appendLine(value: string): void {
    this.lines.push(value);
  }
  info(value: string): void {
    this.lines.push(value);
  }
  warn(value: string): void {
    this.lines.push(value);
  }
  error(value: string | Error): void {
    this.lines.push(String(value));
  }
  trace(value: string): void {
    this.lines.push(value);
  }
  debug(value: string): void {
    this.lines.push(value);
  }
  clear(): void {
    this.lines = [];
  }
  replace(value: string): void {
    this.lines = [value];
  }
  show(): void {
    this.shown = true;
  }
  hide(): void {
    this.shown = false;
  }
  dispose(): void {}
}

export class Terminal {
  sent: string[] = [];
  shown = false;
  constructor(readonly name: string) {}
  sendText(text: string): void {
    this.sent.push(text);
  }
  show(): void {
    this.shown = true;
  }
  dispose(): void {}
}

// ---------------------------------------------------------------- state shared by the namespaces

type MessageLevel = 'error' | 'warning' | 'information';
export interface ShownMessage {
  level: MessageLevel;
  message: string;
  items: string[];
}

interface Inspect {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

function freshState() {
  return {
    commands: new Map<string, (...args: any[]) => unknown>(),
    executed: [] as { command: string; args: unknown[] }[],
    messages: [] as ShownMessage[],
    /** The button the next message "clicks" (undefined: dismissed). */
    messageAnswer: undefined as string | undefined | ((m: ShownMessage) => string | undefined),
    decorationTypes: [] as TextEditorDecorationType[],
    statusBarItems: [] as StatusBarItem[],
    outputChannels: [] as OutputChannel[],
    terminals: [] as Terminal[],
    visibleTextEditors: [] as TextEditor[],
    activeTextEditor: undefined as TextEditor | undefined,
    textDocuments: [] as TextDocument[],
    opened: [] as { content?: string; language?: string }[],
    shownDocuments: [] as unknown[],
    /** User-set values, by full key (e.g. `covlens.display`). */
    config: new Map<string, unknown>(),
    /** Defaults, by full key (filled from package.json by tests that want them). */
    defaults: new Map<string, unknown>(),
    isTrusted: true,
    workspaceFolders: [{ uri: Uri.file('/ws'), name: 'ws', index: 0 }] as { uri: Uri; name: string; index: number }[] | undefined,
    extensions: new Map<string, unknown>(),
    diagnosticCollections: [] as DiagnosticCollection[],
  };
}

let state = freshState();

const emitters = {
  visibleEditors: new EventEmitter<readonly TextEditor[]>(),
  activeEditor: new EventEmitter<TextEditor | undefined>(),
  configuration: new EventEmitter<{ affectsConfiguration(section: string): boolean }>(),
  grantTrust: new EventEmitter<void>(),
  closeDocument: new EventEmitter<TextDocument>(),
  openDocument: new EventEmitter<TextDocument>(),
};

async function showMessage(level: MessageLevel, message: string, ...rest: unknown[]): Promise<string | undefined> {
  const items = rest.filter((r): r is string => typeof r === 'string');
  const shown = { level, message, items };
  state.messages.push(shown);
  const answer = typeof state.messageAnswer === 'function' ? state.messageAnswer(shown) : state.messageAnswer;
  return answer !== undefined && items.includes(answer) ? answer : undefined;
}

// ---------------------------------------------------------------- namespaces

export const commands = withFallbacks({
  registerCommand(id: string, handler: (...args: any[]) => unknown): Disposable {
    if (state.commands.has(id)) throw new Error(`command '${id}' already exists`);
    state.commands.set(id, handler);
    return new Disposable(() => state.commands.delete(id));
  },
  async executeCommand<T = unknown>(id: string, ...args: unknown[]): Promise<T> {
    state.executed.push({ command: id, args });
    const handler = state.commands.get(id);
    if (handler) return (await handler(...args)) as T;
    return undefined as T; // built-in commands (setContext, markdown.showPreviewToSide, …)
  },
  async getCommands(): Promise<string[]> {
    return [...state.commands.keys()];
  },
});

export const window = withFallbacks({
  createTextEditorDecorationType(options: Record<string, unknown>): TextEditorDecorationType {
    const type = new TextEditorDecorationType(options);
    state.decorationTypes.push(type);
    return type;
  },
  createStatusBarItem(
    idOrAlignment?: string | StatusBarAlignment,
    alignmentOrPriority?: StatusBarAlignment | number,
    priority?: number,
  ): StatusBarItem {
    const item =
      typeof idOrAlignment === 'string'
        ? new StatusBarItem(idOrAlignment, (alignmentOrPriority as StatusBarAlignment) ?? StatusBarAlignment.Left, priority)
        : new StatusBarItem(undefined, idOrAlignment ?? StatusBarAlignment.Left, alignmentOrPriority);
    state.statusBarItems.push(item);
    return item;
  },
  createOutputChannel(name: string, _options?: unknown): OutputChannel {
    const channel = new OutputChannel(name);
    state.outputChannels.push(channel);
    return channel;
  },
  createTerminal(options: { name?: string } | string = {}): Terminal {
    const terminal = new Terminal(typeof options === 'string' ? options : (options.name ?? 'terminal'));
    state.terminals.push(terminal);
    return terminal;
  },
  showErrorMessage: (message: string, ...items: unknown[]) => showMessage('error', message, ...items),
  showWarningMessage: (message: string, ...items: unknown[]) => showMessage('warning', message, ...items),
  showInformationMessage: (message: string, ...items: unknown[]) => showMessage('information', message, ...items),
  async showTextDocument(doc: unknown, _options?: unknown): Promise<unknown> {
    state.shownDocuments.push(doc);
    return undefined;
  },
  get visibleTextEditors(): readonly TextEditor[] {
    return state.visibleTextEditors;
  },
  get activeTextEditor(): TextEditor | undefined {
    return state.activeTextEditor;
  },
  onDidChangeVisibleTextEditors: emitters.visibleEditors.event,
  onDidChangeActiveTextEditor: emitters.activeEditor.event,
  tabGroups: withFallbacks({ all: [] as unknown[] }),
  async withProgress<R>(_options: unknown, task: (progress: { report(value: unknown): void }, token: unknown) => Promise<R>): Promise<R> {
    return task({ report: () => undefined }, new CancellationTokenSource().token);
  },
});

class WorkspaceConfiguration {
  constructor(private readonly section: string) {}
  private full(key: string): string {
    return this.section ? `${this.section}.${key}` : key;
  }
  get<T>(key: string, defaultValue?: T): T | undefined {
    const k = this.full(key);
    if (state.config.has(k)) return state.config.get(k) as T;
    if (state.defaults.has(k)) return state.defaults.get(k) as T;
    return defaultValue;
  }
  has(key: string): boolean {
    const k = this.full(key);
    return state.config.has(k) || state.defaults.has(k);
  }
  inspect<T>(key: string): (Inspect & { key: string }) | undefined {
    const k = this.full(key);
    return {
      key: k,
      defaultValue: state.defaults.get(k) as T,
      workspaceValue: state.config.get(k) as T,
    };
  }
  async update(key: string, value: unknown): Promise<void> {
    __mock.setConfig(this.full(key), value);
  }
}

export const workspace = withFallbacks({
  getConfiguration(section = '', _scope?: unknown): WorkspaceConfiguration {
    return new WorkspaceConfiguration(section);
  },
  getWorkspaceFolder(uri: Uri) {
    return state.workspaceFolders?.find((f) => uri.path === f.uri.path || uri.path.startsWith(`${f.uri.path}/`));
  },
  get workspaceFolders() {
    return state.workspaceFolders;
  },
  get isTrusted(): boolean {
    return state.isTrusted;
  },
  get textDocuments(): readonly TextDocument[] {
    return state.textDocuments;
  },
  async openTextDocument(arg: { content?: string; language?: string } | Uri): Promise<TextDocument> {
    if (arg instanceof Uri) return new TextDocument(arg, 1);
    state.opened.push(arg);
    return new TextDocument(Uri.parse(`untitled:Untitled-${state.opened.length}`), arg.content ?? '', arg.language);
  },
  onDidChangeConfiguration: emitters.configuration.event,
  onDidGrantWorkspaceTrust: emitters.grantTrust.event,
  onDidCloseTextDocument: emitters.closeDocument.event,
  onDidOpenTextDocument: emitters.openDocument.event,
  createFileSystemWatcher(_pattern: unknown) {
    return withFallbacks({ dispose() {} });
  },
  async applyEdit(_edit: WorkspaceEdit): Promise<boolean> {
    return false;
  },
});

/** The subset of document selectors covlens uses: language, scheme and a `**\/name` pattern. */
function matches(selector: unknown, doc: TextDocument): number {
  if (Array.isArray(selector)) return Math.max(0, ...selector.map((s) => matches(s, doc)));
  if (typeof selector === 'string') return selector === doc.languageId || selector === '*' ? 10 : 0;
  const f = selector as { language?: string; scheme?: string; pattern?: string };
  if (f.scheme && f.scheme !== doc.uri.scheme) return 0;
  if (f.language && f.language !== doc.languageId) return 0;
  if (typeof f.pattern === 'string' && !doc.uri.path.endsWith(f.pattern.replace(/^\*\*\//, '/'))) return 0;
  return f.language ? 10 : 5;
}

export const languages = withFallbacks({
  match: (selector: unknown, doc: TextDocument) => matches(selector, doc),
  createDiagnosticCollection(name = 'diagnostics'): DiagnosticCollection {
    const collection = new DiagnosticCollection(name);
    state.diagnosticCollections.push(collection);
    return collection;
  },
});

export const extensions = withFallbacks({
  getExtension<T>(id: string): { id: string; isActive: boolean; exports: T; activate(): Promise<T> } | undefined {
    if (!state.extensions.has(id)) return undefined;
    const exports = state.extensions.get(id) as T;
    return { id, isActive: true, exports, activate: async () => exports };
  },
});

export const env = withFallbacks({
  language: 'en',
  appName: 'Visual Studio Code (mock)',
  machineId: 'mock',
  async openExternal(_uri: Uri): Promise<boolean> {
    return true;
  },
});
export const version = '1.82.0';

// ---------------------------------------------------------------- the test-side handle

class Memento {
  private values = new Map<string, unknown>();
  get<T>(key: string, defaultValue?: T): T | undefined {
    return this.values.has(key) ? (this.values.get(key) as T) : defaultValue;
  }
  async update(key: string, value: unknown): Promise<void> {
    this.values.set(key, value);
  }
  keys(): readonly string[] {
    return [...this.values.keys()];
  }
}

export const __mock = {
  get state() {
    return state;
  },
  reset(): void {
    state = freshState();
    TextEditorDecorationType.created = 0;
    for (const e of Object.values(emitters)) e.dispose();
  },
  /** Opens a document in `columns` editors (split views) and makes them visible. */
  openEditor(fsPath: string, content: number | string, columns: ViewColumn[] = [ViewColumn.One]): TextEditor[] {
    const uri = Uri.file(fsPath);
    let doc = state.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (!doc) {
      doc = new TextDocument(uri, content, fsPath.endsWith('.py') ? 'python' : 'plaintext');
      state.textDocuments.push(doc);
      emitters.openDocument.fire(doc);
    }
    const editors = columns.map((c) => new TextEditor(doc!, c));
    state.visibleTextEditors = [...state.visibleTextEditors, ...editors];
    state.activeTextEditor = editors[0];
    emitters.visibleEditors.fire(state.visibleTextEditors);
    emitters.activeEditor.fire(state.activeTextEditor);
    return editors;
  },
  /** Replaces the visible editors (a tab switch: the old editor objects are gone, new ones come). */
  showEditors(editors: TextEditor[]): void {
    state.visibleTextEditors = editors;
    state.activeTextEditor = editors[0];
    emitters.visibleEditors.fire(state.visibleTextEditors);
    emitters.activeEditor.fire(state.activeTextEditor);
  },
  closeDocument(doc: TextDocument): void {
    state.textDocuments = state.textDocuments.filter((d) => d !== doc);
    state.visibleTextEditors = state.visibleTextEditors.filter((e) => e.document !== doc);
    doc.isClosed = true;
    emitters.closeDocument.fire(doc);
    emitters.visibleEditors.fire(state.visibleTextEditors);
  },
  setConfig(key: string, value: unknown): void {
    if (value === undefined) state.config.delete(key);
    else state.config.set(key, value);
    emitters.configuration.fire({
      affectsConfiguration: (section: string) => key === section || key.startsWith(`${section}.`),
    });
  },
  setTrusted(trusted: boolean): void {
    const was = state.isTrusted;
    state.isTrusted = trusted;
    if (trusted && !was) emitters.grantTrust.fire();
  },
  setExtension(id: string, exports: unknown): void {
    state.extensions.set(id, exports);
  },
  answerMessages(answer: string | undefined | ((m: ShownMessage) => string | undefined)): void {
    state.messageAnswer = answer;
  },
  extensionContext(extensionPath = '/ext') {
    return {
      subscriptions: [] as { dispose(): unknown }[],
      extensionUri: Uri.file(extensionPath),
      extensionPath,
      extensionMode: ExtensionMode.Test,
      workspaceState: new Memento(),
      globalState: Object.assign(new Memento(), { setKeysForSync() {} }),
      asAbsolutePath: (p: string) => path.join(extensionPath, p),
    };
  },
};
