import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import build from '../../tsup.config.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const typeTests = fileURLToPath(new URL('./', import.meta.url));

interface Entry {
  /** The subpath users import, e.g. `voice-admission/telemetry`. */
  readonly specifier: string;
  /** Its source, e.g. `src/telemetry/index.ts`. */
  readonly source: string;
}

/**
 * The package's entries, read from package.json "exports" (every subpath but package.json),
 * each with the source the build compiles into the file that subpath's types point to.
 */
function entries(): Entry[] {
  const manifest = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
    name: string;
    exports: Record<string, string | { import?: { types?: string } }>;
  };
  const sources = new Map<string, string>();
  for (const config of [build].flat()) {
    const entry = (config as { entry?: unknown }).entry;
    if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
      for (const [name, source] of Object.entries(entry)) sources.set(name, String(source));
    }
  }
  return Object.entries(manifest.exports)
    .filter(([subpath]) => subpath !== './package.json')
    .map(([subpath, target]) => {
      const specifier = `${manifest.name}${subpath.slice(1)}`;
      const types = typeof target === 'string' ? target : target.import?.types;
      const built = types?.match(/^\.\/dist\/(.+)\.d\.ts$/)?.[1];
      const source = built === undefined ? undefined : sources.get(built);
      if (source === undefined) {
        throw new Error(`${specifier}: no source builds ${String(types)} (see tsup.config.ts)`);
      }
      return { specifier, source };
    });
}

/**
 * The exports (values and types) of every entry that no type test under test/types imports:
 * an export counts as tested when a `*.test-d.ts` file imports it, from any entry, by an
 * import declaration or an `import('...').Name` type.
 */
function untestedExports(): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    `${root}tsconfig.json`,
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  )!;
  const tests = readdirSync(typeTests)
    .filter((name) => name.endsWith('.test-d.ts'))
    .map((name) => `${typeTests}${name}`);
  const all = entries();
  const program = ts.createProgram([...all.map((entry) => `${root}${entry.source}`), ...tests], {
    ...config.options,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const target = (symbol: ts.Symbol): ts.Symbol =>
    symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;

  const imported = new Set<ts.Symbol>();
  const note = (node: ts.Node): void => {
    const symbol = checker.getSymbolAtLocation(node);
    if (symbol !== undefined) imported.add(target(symbol));
  };
  for (const test of tests) {
    const visit = (node: ts.Node): void => {
      if (ts.isImportSpecifier(node)) note(node.name);
      else if (ts.isImportTypeNode(node) && node.qualifier !== undefined) {
        note(ts.isQualifiedName(node.qualifier) ? node.qualifier.right : node.qualifier);
      }
      ts.forEachChild(node, visit);
    };
    visit(program.getSourceFile(test)!);
  }

  const missing: string[] = [];
  for (const entry of all) {
    const file = program.getSourceFile(`${root}${entry.source}`)!;
    const module = checker.getSymbolAtLocation(file);
    if (module === undefined) {
      missing.push(`${entry.specifier}: not a module`);
      continue;
    }
    for (const symbol of checker.getExportsOfModule(module)) {
      if (!imported.has(target(symbol))) missing.push(`${entry.specifier}: ${symbol.name}`);
    }
  }
  return missing;
}

describe('type tests', () => {
  it('read every entry of package.json with its source', () => {
    expect(entries()).toEqual(
      expect.arrayContaining([
        { specifier: 'voice-admission', source: 'src/index.ts' },
        { specifier: 'voice-admission/telemetry', source: 'src/telemetry/index.ts' },
        {
          specifier: 'voice-admission/livekit-agents',
          source: 'src/integrations/livekit-agents.ts',
        },
      ]),
    );
  });

  it('cover every export of every entry, value or type', () => {
    expect(untestedExports()).toEqual([]);
  });
});
