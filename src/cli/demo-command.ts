import { integerFlag, parseFlags } from './args.js';
import { DEFAULT_SCENARIO, formatReports, runWithAdmission, runWithoutAdmission } from './demo.js';

export const DEMO_USAGE = `voice-admission demo [options]

${DEFAULT_SCENARIO.requests} simultaneous session requests against the simulated backend, first with no admission,
then through Admission (cap 100, tenant caps, queue, setup smoothing).

  --requests N         requests in the burst (default ${DEFAULT_SCENARIO.requests})
`;

/** `voice-admission demo`: runs the burst both ways and prints the comparison. */
export async function demoCommand(argv: readonly string[]): Promise<number> {
  const values = parseFlags(argv, ['requests']);
  const requests =
    integerFlag('--requests', values.requests as string | undefined, 1) ??
    DEFAULT_SCENARIO.requests;
  const scenario = { ...DEFAULT_SCENARIO, requests };
  const { simulation } = scenario;
  process.stdout.write(
    `Simulated backend (no media): setup ${simulation.setupLatencyMs} ms, slower past ` +
      `${simulation.setupCapacity} concurrent setups; joins slower than ${simulation.setupTimeoutMs} ms fail.\n` +
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
