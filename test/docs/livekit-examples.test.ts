import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const doc = readFileSync(`${root}docs/livekit.md`, 'utf8');
const examples = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);

/**
 * Type-checks every TypeScript example of docs/livekit.md as a module of its own, with
 * 'voice-admission' resolved to the sources and the project's strict compiler options.
 */
function diagnostics(): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    `${root}tsconfig.json`,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => undefined,
    },
  )!;
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    baseUrl: root,
    paths: { 'voice-admission': ['src/index.ts'] },
  };
  const files = new Map(examples.map((code, i) => [`${root}docs/example-${i + 1}.mts`, code]));
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => files.has(name) || fileExists(name);
  host.readFile = (name) => files.get(name) ?? readFile(name);
  host.getSourceFile = (name, language, ...rest) => {
    const code = files.get(name);
    return code === undefined
      ? getSourceFile(name, language, ...rest)
      : ts.createSourceFile(name, code, language, true);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file !== undefined && files.has(d.file.fileName))
    .map((d) => {
      const where = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      return `${d.file!.fileName.slice(root.length)}:${where.line + 1}: ${text}`;
    });
}

describe('docs/livekit.md', () => {
  it('has TypeScript examples, and every one type-checks against the package', () => {
    expect(examples.length).toBeGreaterThanOrEqual(5);
    expect(diagnostics()).toEqual([]);
  }, 60_000);
});
