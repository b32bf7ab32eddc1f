/**
 * vscode-languageclient `require`s the real `vscode` module, which does not
 * exist outside VS Code, so unit tests get this stand-in (tests inject a fake
 * client through `ClientFactory`). The real library is exercised against the
 * bundle in test/package/bundle.test.ts.
 */
import { vi } from 'vitest';

vi.mock('vscode-languageclient/node', () => {
  enum State {
    Stopped = 1,
    Running = 2,
    Starting = 3,
  }
  class LanguageClient {
    constructor(
      readonly id: string,
      readonly name: string,
      readonly serverOptions: unknown,
      readonly clientOptions: unknown,
    ) {}
    registerFeature(): void {}
  }
  return { State, LanguageClient };
});
