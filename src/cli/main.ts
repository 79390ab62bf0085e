#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { DEFAULT_SCENARIO, formatReports, runWithAdmission, runWithoutAdmission } from './demo.js';

const USAGE = `voice-admission <command>

Commands:
  demo    600 simultaneous session requests against the simulated backend, first with no
          admission, then through Admission (cap 100, tenant caps, queue, setup smoothing)

Options:
  --requests N   requests in the demo burst (default ${DEFAULT_SCENARIO.requests})
  -h, --help     show this help
`;

async function main(argv: readonly string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      requests: { type: 'string' },
    },
  });
  const command = positionals[0] ?? 'demo';
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command !== 'demo') {
    process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  const requests =
    values.requests === undefined ? DEFAULT_SCENARIO.requests : Number(values.requests);
  if (!Number.isInteger(requests) || requests < 1) {
    process.stderr.write(`--requests must be a positive integer, got "${values.requests}"\n`);
    return 2;
  }
  const scenario = { ...DEFAULT_SCENARIO, requests };
  process.stdout.write(
    `Simulated backend (no media): setup ${scenario.simulation.setupLatencyMs} ms, slower past ` +
      `${scenario.simulation.setupCapacity} concurrent setups; joins slower than ` +
      `${scenario.simulation.setupTimeoutMs} ms fail.\n` +
      `Burst: ${requests} simultaneous session requests across ${Object.keys(scenario.tenants).length} tenants.\n\n`,
  );
  process.stdout.write('running without admission...\n');
  const bare = await runWithoutAdmission(scenario);
  process.stdout.write(
    'running through Admission (cap 100, tenant caps 60/40, queue, 20 concurrent setups)...\n\n',
  );
  const admitted = await runWithAdmission(scenario);
  process.stdout.write(`${formatReports([bare, admitted])}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
