#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError } from '../iface/errors.js';
import { MissingPeerError } from '../telemetry/peers.js';
import { VERSION } from '../version.js';
import { BURST_USAGE, burstCommand } from './burst.js';
import { DEFAULT_SCENARIO, runDemo } from './demo.js';
import { serve } from './serve.js';
import { parseServeConfig, SERVE_USAGE } from './serve-config.js';

const USAGE = `voice-admission <command> [options]

Commands:
  demo    ${DEFAULT_SCENARIO.requests} simultaneous session requests against the simulated backend, first with
          no admission, then through Admission (cap 100, tenant caps, queue, setup smoothing)
          --requests N   requests in the burst (default ${DEFAULT_SCENARIO.requests})
  serve   the HTTP gateway (see voice-admission serve --help)
  burst   a load generator for the gateway (see voice-admission burst --help)

Options:
  --help, -h     this text
  --version, -v  the version of voice-admission
`;

async function demo(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { requests: { type: 'string' } },
    strict: true,
  });
  const requests =
    values.requests === undefined ? DEFAULT_SCENARIO.requests : Number(values.requests);
  if (!Number.isInteger(requests) || requests < 1) {
    throw new ConfigError(
      '--requests',
      `must be a positive integer, got ${JSON.stringify(values.requests)}`,
    );
  }
  await runDemo({ ...DEFAULT_SCENARIO, requests }, process.stdout);
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command = 'demo', ...rest] = argv;
  const help = rest.includes('--help') || rest.includes('-h');
  switch (command) {
    case 'demo':
      if (help) break;
      return demo(rest);
    case 'serve': {
      if (help) {
        process.stdout.write(SERVE_USAGE);
        return 0;
      }
      const { url } = await serve(parseServeConfig(rest, process.env));
      process.stdout.write(`${JSON.stringify({ event: 'listening', url })}\n`);
      return 0;
    }
    case 'burst':
      if (help) {
        process.stdout.write(BURST_USAGE);
        return 0;
      }
      return burstCommand(rest);
    case '--version':
    case '-v':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case '--help':
    case '-h':
      break;
    default:
      process.stderr.write(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
  process.stdout.write(USAGE);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (
      error instanceof ConfigError ||
      (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    if (error instanceof MissingPeerError) {
      // An optional package the command needs is not installed: say which, no stack.
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    console.error(error);
    process.exitCode = 1;
  },
);
