import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The ```ts blocks of a markdown file of the repository. */
export function examplesOf(markdown: string): string[] {
  const doc = readFileSync(`${root}${markdown}`, 'utf8');
  return [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

/**
 * Type-checks each example as a module of its own, with 'voice-admission' (and its subpath
 * exports) resolved to the sources and the project's strict compiler options. Returns the
 * diagnostics, with the example's number and line.
 */
export function typeCheckExamples(markdown: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    `${root}tsconfig.json`,
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  )!;
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    baseUrl: root,
    paths: {
      'voice-admission': ['src/index.ts'],
      'voice-admission/telemetry': ['src/telemetry/index.ts'],
      'voice-admission/livekit-agents': ['src/integrations/livekit-agents.ts'],
    },
  };
  const stem = markdown.replace(/[/.]/g, '-');
  const files = new Map(
    examplesOf(markdown).map((code, i) => [`${root}.examples/${stem}-${i + 1}.mts`, code]),
  );
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
