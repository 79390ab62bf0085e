import { integerFlag, parseFlags } from './args.js';
import { DEFAULT_SCENARIO, MAX_DEMO_REQUESTS, runDemo } from './demo.js';

export const DEMO_USAGE = `voice-admission demo [options]

${DEFAULT_SCENARIO.requests} simultaneous session requests against the simulated backend, first with no admission,
then through Admission (cap 100, tenant caps, queue, setup smoothing).

  --requests N         requests in the burst (default ${DEFAULT_SCENARIO.requests}, at most ${MAX_DEMO_REQUESTS})
`;

/** `voice-admission demo`: runs the burst both ways and prints the comparison. */
export async function demoCommand(argv: readonly string[]): Promise<number> {
  const values = parseFlags(argv, ['requests']);
  const requests =
    integerFlag('--requests', values.requests as string | undefined, 1, MAX_DEMO_REQUESTS) ??
    DEFAULT_SCENARIO.requests;
  const scenario = { ...DEFAULT_SCENARIO, requests };
  await runDemo(scenario, process.stdout);
  return 0;
}
