import type { VoiceSession } from '../../src/iface/session.js';
import { Admission } from '../../src/index.js';
import { testMeter } from '../../test/support/metric-reader.js';
import {
  type Contenders,
  type Figures,
  figure,
  formatSpread,
  interleaved,
  spread,
} from '../isolated.js';
import {
  type BenchCase,
  collectGarbage,
  formatBytes,
  formatNs,
  heapUsed,
  type Row,
} from '../measure.js';
import { ZeroCostBackend } from '../zero-cost-backend.js';

const CYCLES = 50_000;
const OPEN = 10_000;
/** More rounds than elsewhere: each figure is a difference of two processes' timings. */
const ROUNDS = 9;

type Create = (i: number) => Promise<VoiceSession>;

/** ns per create + close, one after the other, and heap per open session after a forced GC. */
async function measure(makeCreate: (backend: ZeroCostBackend) => Create): Promise<Figures> {
  const backend = new ZeroCostBackend();
  await backend.start();
  const create = makeCreate(backend);
  const cycles = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) await (await create(i)).close();
  };
  await cycles(CYCLES / 5); // warm-up
  collectGarbage();
  const started = process.hrtime.bigint();
  await cycles(CYCLES);
  const nsPerSession = Number(process.hrtime.bigint() - started) / CYCLES;
  collectGarbage();
  const before = heapUsed();
  const open: VoiceSession[] = [];
  for (let i = 0; i < OPEN; i++) open.push(await create(i));
  collectGarbage();
  const bytesPerSession = (heapUsed() - before) / OPEN;
  await Promise.all(open.map((session) => session.close()));
  await backend.stop();
  return { nsPerSession, bytesPerSession };
}

const BARE = 'backend alone';
const PLAIN = 'Admission, telemetry off';
const OBSERVED = 'Admission, telemetry on (SDK meter provider)';

function admitted(telemetry: boolean): (backend: ZeroCostBackend) => Create {
  return (backend) => {
    const admission = new Admission(backend, {
      maxConcurrentSessions: OPEN,
      health: false,
      telemetry: telemetry ? { meterProvider: testMeter().meterProvider } : false,
    });
    const request = { tenantId: 'acme', userId: 'caller' };
    return () => admission.createSession(request);
  };
}

/** Each runs in its own process (bench/child.ts). */
export const contenders: Contenders = {
  [BARE]: () =>
    measure((backend) => () => backend.createSession({ tenantId: 'acme', userId: 'caller' })),
  [PLAIN]: () => measure(admitted(false)),
  [OBSERVED]: () => measure(admitted(true)),
};

export const overhead: BenchCase = {
  name: `per-session overhead over a zero-cost backend (${CYCLES.toLocaleString('en-US')} create + close, ${OPEN.toLocaleString('en-US')} open, own process)`,
  command: 'npm run bench -- overhead',
  notes: () => [
    `"added" is Admission's figure minus the backend's alone, round by round (each pair ran back to back). The zero-cost backend (bench/zero-cost-backend.ts) creates and closes sessions without doing any work, so what is added is Admission's own bookkeeping per session: the gate, the session flow and, with telemetry on, the metrics. Create + close runs ${CYCLES.toLocaleString('en-US')} sessions one after the other; the heap is read after a forced GC with ${OPEN.toLocaleString('en-US')} sessions open.`,
  ],
  async run(): Promise<Row[]> {
    const names = Object.keys(contenders);
    const samples = await interleaved(import.meta.url, names, ROUNDS);
    const bare = samples.get(BARE)!;
    const over = (name: string, key: string) =>
      spread(samples.get(name)!.map((f, i) => f[key]! - bare[i]![key]!));
    const group = this.name;
    const rows: Row[] = [
      {
        group,
        name: `${BARE}: create + close`,
        value: formatSpread(figure(samples, BARE, 'nsPerSession'), formatNs),
        ratio: '',
      },
      {
        group,
        name: `${BARE}: heap per open session`,
        value: formatSpread(figure(samples, BARE, 'bytesPerSession'), formatBytes),
        ratio: '',
      },
    ];
    for (const name of [PLAIN, OBSERVED]) {
      const ns = over(name, 'nsPerSession');
      rows.push({
        group,
        name: `${name}: added per create + close`,
        value: formatSpread(ns, formatNs),
        ratio: '',
        ...(name === PLAIN ? { target: '<= 10 µs', met: ns.median <= 10_000 } : {}),
      });
      rows.push({
        group,
        name: `${name}: added heap per open session`,
        value: formatSpread(over(name, 'bytesPerSession'), formatBytes),
        ratio: '',
      });
    }
    return rows;
  },
};
