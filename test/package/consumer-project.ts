import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { examplesOf } from '../support/doc-examples.js';

const execFileAsync = promisify(execFile);

export const root = new URL('../../', import.meta.url).pathname;
export const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  readonly name: string;
  readonly version: string;
};

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How long a command may run before it is taken for hung and killed. */
export const HUNG_AFTER_MS = 600_000;

/**
 * Runs a command to completion; a non-zero exit is a result, not a rejection. The kill timer
 * only guards against a hung command: a type check of every doc example on a busy 2-core
 * machine can take minutes.
 */
export async function run(command: string, args: readonly string[], cwd: string): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(command, [...args], {
      cwd,
      timeout: HUNG_AFTER_MS,
      maxBuffer: 16 * 1024 * 1024,
      env: consumerEnvironment(),
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** The environment without what `npm test` adds about this repository (its package, its cwd). */
function consumerEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        !/^(npm_package_|npm_lifecycle_|npm_config_local_prefix$|npm_command$|INIT_CWD$)/.test(
          name,
        ),
    ),
  );
}

/** `npm pack` of this repository (its `prepack` script builds dist/); the tarball's path. */
export async function pack(destination: string): Promise<string> {
  const packed = await run('npm', ['pack', '--silent', '--pack-destination', destination], root);
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`);
  return join(destination, packed.stdout.trim().split('\n').at(-1)!);
}

/** An application with the package installed, and what npm printed on stderr installing it. */
export interface Installed {
  readonly dir: string;
  readonly warnings: string;
}

/**
 * An empty application that installs the tarball and exactly `packages` besides, the way a
 * user would (`npm install`), from npm's cache when it can.
 */
export async function consumerProject(
  dir: string,
  tarball: string,
  packages: readonly string[],
): Promise<Installed> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }),
  );
  const installed = await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, ...packages],
    dir,
  );
  if (installed.code !== 0) throw new Error(`npm install failed:\n${installed.stderr}`);
  return { dir, warnings: installed.stderr };
}

/** Writes `code` to `file` in the project and runs it with node. */
export function runScript(dir: string, file: string, code: string): Promise<Run> {
  writeFileSync(join(dir, file), code);
  return run(process.execPath, [file], dir);
}

/**
 * The module settings an application type-checks with: Node's own, a bundler's, or those a
 * CommonJS project gets without setting `moduleResolution` (node10, which reads no `exports`).
 */
export type Resolution = 'nodenext' | 'bundler' | 'node10';

const MODULE_SETTINGS: Record<Resolution, { module: string; moduleResolution: string }> = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'preserve', moduleResolution: 'bundler' },
  node10: { module: 'commonjs', moduleResolution: 'node10' },
};

/**
 * Type-checks `files` in the project with the strict settings of `tsc --init` and
 * `skipLibCheck: false`, so the package's own .d.ts files are checked too. The compiler and
 * Node's types come from this repository: they are the application's tools, not the
 * package's dependencies. Returns tsc's diagnostics ('' when clean).
 */
export async function typeCheck(
  dir: string,
  resolution: Resolution,
  files: readonly string[],
): Promise<string> {
  const config = `tsconfig.${resolution}.json`;
  writeFileSync(
    join(dir, config),
    JSON.stringify({
      compilerOptions: {
        target: 'es2022',
        ...MODULE_SETTINGS[resolution],
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        verbatimModuleSyntax: true,
        isolatedModules: true,
        moduleDetection: 'force',
        skipLibCheck: false,
        noEmit: true,
        typeRoots: [join(root, 'node_modules/@types')],
        types: ['node'],
      },
      files,
    }),
  );
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const checked = await run(process.execPath, [tsc, '-p', config, '--pretty', 'false'], dir);
  return ownDiagnostics(`${checked.stdout}${checked.stderr}`);
}

/**
 * tsc's diagnostics without those inside other packages' declarations (e.g. @livekit/agents
 * imports types of `ws` it does not depend on): those are theirs to fix, not a fault of this
 * package or its examples. Continuation lines stay with their diagnostic.
 */
function ownDiagnostics(output: string): string {
  const diagnostics: string[][] = [];
  for (const line of output.split('\n')) {
    if (line.startsWith(' ') && diagnostics.length > 0) diagnostics.at(-1)!.push(line);
    else if (line.trim() !== '') diagnostics.push([line]);
  }
  return diagnostics
    .filter(
      ([first]) =>
        !first!.startsWith('node_modules/') || first!.startsWith(`node_modules/${manifest.name}/`),
    )
    .map((lines) => lines.join('\n'))
    .join('\n');
}

/**
 * The packages docs/autoscaling.md tells users to install for `helper`, read from its
 * `# for helper()` / `npm install ...` lines, so the test installs what the docs say.
 */
export function peersNamedFor(helper: string): string[] {
  const doc = readFileSync(join(root, 'docs/autoscaling.md'), 'utf8');
  const line = new RegExp(`# for ${helper}\\(\\)\\nnpm install ([^\\n]+)`).exec(doc);
  if (line === null) throw new Error(`docs/autoscaling.md names no packages for ${helper}()`);
  return line[1]!.trim().split(/\s+/);
}

/**
 * The README's install command for npm with `--legacy-peer-deps`, which installs no peers:
 * its arguments besides this package (the flag among them), as `npm install` takes them.
 */
export function readmeInstallWithoutPeers(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const line = /npm install (--legacy-peer-deps [^\n`]+)/.exec(readme);
  if (line === null) throw new Error('README.md gives no npm install --legacy-peer-deps command');
  return line[1]!
    .trim()
    .split(/\s+/)
    .filter((arg) => arg !== manifest.name);
}

/** `text` with each line ended by `\` (a shell or Dockerfile continuation) joined to the next. */
function joinedLines(text: string): string {
  return text.replace(/\\\n\s*/g, ' ');
}

/** The gateway image of docs/gateway.md: what its Dockerfile installs, and its Deployment. */
export function gatewayImage(): { packages: string[]; deployment: string } {
  const doc = readFileSync(join(root, 'docs/gateway.md'), 'utf8');
  const dockerfile = joinedLines(/```dockerfile\n([\s\S]*?)```/.exec(doc)?.[1] ?? '');
  const install = /npm install ([^\n]+)/.exec(dockerfile);
  const deployment = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  if (install === null || deployment === undefined) {
    throw new Error('docs/gateway.md shows no Dockerfile with npm install, or no Deployment');
  }
  const packages = install[1]!.trim().split(/\s+/);
  return { packages: packages.filter((name) => name !== manifest.name), deployment };
}

/** The documents whose ```ts examples a user copies: the README and docs/*.md. */
export function documents(names: readonly string[]): string[] {
  return ['README.md', ...names.filter((name) => name.endsWith('.md')).map((n) => `docs/${n}`)];
}

/**
 * The packages the examples of `markdowns` need besides this one: those they import (not
 * Node's own modules) and those the documents tell the user to `npm install` (type packages
 * such as @types/express among them).
 */
export function packagesTheExamplesNeed(markdowns: readonly string[]): string[] {
  const names = new Set<string>();
  for (const markdown of markdowns) {
    for (const example of examplesOf(markdown)) {
      for (const [, specifier] of example.matchAll(/(?:from|import)\s+'([^'.][^']*)'/g)) {
        if (specifier!.startsWith('node:')) continue;
        const parts = specifier!.split('/');
        names.add(specifier!.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
      }
    }
    const doc = joinedLines(readFileSync(join(root, markdown), 'utf8'));
    for (const [, args] of doc.matchAll(/npm install ([^&\n`]+)/g)) {
      for (const arg of args!.trim().split(/\s+/)) if (!arg.startsWith('-')) names.add(arg);
    }
  }
  names.delete(manifest.name);
  return [...names].sort();
}

/** Writes each example of `markdowns` as an ES module of its own; their file names. */
export function writeExamples(dir: string, markdowns: readonly string[]): string[] {
  mkdirSync(join(dir, 'examples'), { recursive: true });
  return markdowns.flatMap((markdown) =>
    examplesOf(markdown).map((code, i) => {
      const file = `examples/${markdown.replace(/[/.]/g, '-')}-${i + 1}.mts`;
      writeFileSync(join(dir, file), code);
      return file;
    }),
  );
}
