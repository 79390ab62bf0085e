#!/usr/bin/env node
import { ConfigError } from '../iface/errors.js';
import { messageOf } from '../internal/thrown.js';
import { VERSION } from '../version.js';
import { UsageError } from './args.js';

const USAGE = `voice-admission <command> [options]

Commands:
  serve     admission as an HTTP service (voice-admission serve --help)
  burst     a load generator for the gateway (voice-admission burst --help)
  demo      a burst of session requests against the simulated backend, first with no
            admission, then through Admission (voice-admission demo --help)
  openapi   the gateway's OpenAPI 3.1 document (also served at GET /openapi.json)
  help      this text; help <command> for a command's options
  version   the version (also --version, -v)
`;

/** A command: its usage text and what runs it (loaded only when that command runs). */
interface Command {
  readonly usage: () => Promise<string>;
  readonly run: (argv: readonly string[]) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  serve: {
    usage: async () => (await import('./serve-config.js')).SERVE_USAGE,
    run: async (argv) => {
      const [{ parseServeConfig }, { serve, closeOnSignals }, { logProcessWarnings }] =
        await Promise.all([
          import('./serve-config.js'),
          import('./serve.js'),
          import('./process-warnings.js'),
        ]);
      const config = parseServeConfig(argv, process.env);
      // Logs go through process.stdout, so a failure to write them is handled as for every
      // command (pino's own writer retries a full disk forever, the gateway hung).
      const gateway = await serve(config, { version: VERSION, logStream: process.stdout });
      // The process is the gateway's: its warnings belong in the gateway's log.
      logProcessWarnings(
        gateway.log,
        config.livekit === undefined ? [] : [config.livekit.apiSecret],
      );
      closeOnSignals(gateway, config.drainTimeoutMs);
      return 0;
    },
  },
  burst: {
    usage: async () => (await import('./burst.js')).BURST_USAGE,
    run: async (argv) => (await import('./burst.js')).burstCommand(argv),
  },
  openapi: {
    usage: async () =>
      'voice-admission openapi\n\nPrints the OpenAPI 3.1 document of the gateway.\n',
    run: async (argv) => {
      if (argv.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(argv[0])}`);
      const { openApiDocument } = await import('./gateway/openapi.js');
      process.stdout.write(`${JSON.stringify(openApiDocument(VERSION), null, 2)}\n`);
      return 0;
    },
  },
  demo: {
    usage: async () => (await import('./demo-command.js')).DEMO_USAGE,
    run: async (argv) => (await import('./demo-command.js')).demoCommand(argv),
  },
};

/** The command of that name; a name such as `toString` or `__proto__` is no command. */
function commandNamed(name: string | undefined): Command | undefined {
  return name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}

const HELP_FLAGS = new Set(['--help', '-h']);
const HELP = new Set(['help', ...HELP_FLAGS]);
const VERSION_FLAGS = new Set(['version', '--version', '-v']);

/** Refuses the command line with `problem` and the general usage on stderr; exit 2. */
function refuse(problem: string): number {
  process.stderr.write(`${problem}\n\n${USAGE}`);
  return 2;
}

async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (VERSION_FLAGS.has(first)) {
    if (rest.length > 0) return refuse(`unexpected argument ${JSON.stringify(rest[0])}`);
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (HELP.has(first)) {
    // `help serve --help` asks the same twice; `help serve extra` asks something else.
    const extra = rest.slice(1).find((arg) => !HELP_FLAGS.has(arg));
    if (extra !== undefined) return refuse(`unexpected argument ${JSON.stringify(extra)}`);
    // `help`, `help help` and `help version`: the general usage tells of those.
    if (rest[0] === undefined || HELP.has(rest[0]) || VERSION_FLAGS.has(rest[0])) {
      process.stdout.write(USAGE);
      return 0;
    }
    const about = commandNamed(rest[0]);
    if (about === undefined) return refuse(`unknown command ${JSON.stringify(rest[0])}`);
    process.stdout.write(await about.usage());
    return 0;
  }
  const command = commandNamed(first);
  if (command === undefined) return refuse(`unknown command ${JSON.stringify(first)}`);
  // After a command the bare word is an option's value (a tenant named "help"), not a request.
  if (rest.some((arg) => HELP_FLAGS.has(arg))) {
    process.stdout.write(await command.usage());
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n\n${await command.usage()}`);
      return 2;
    }
    throw error;
  }
}

/** One line, no stack trace: what failed and its code, if any. */
function reportFailure(error: unknown, what = ''): void {
  const code = (error as { code?: unknown } | null)?.code;
  const message = messageOf(error);
  process.stderr.write(
    `voice-admission: ${what}${message}${typeof code === 'string' ? ` (${code})` : ''}\n`,
  );
}

// A reader that left early (`voice-admission openapi | head`) is no failure: what is left
// unwritten was not wanted. Any other failure to write (a full disk) ends the command.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') return;
  reportFailure(error, 'cannot write to stdout: ');
  process.exit(1);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    reportFailure(error);
    process.exitCode = 1;
  },
);
