/**
 * Run as a child process by secrets.test.ts: drives the LiveKit provider through successes
 * and every kind of failure, printing everything a service would log (errors with causes and
 * stacks, events, health, spans, sessions, the backend), while @livekit/rtc-node logs to the
 * same stdout. The tokens it minted go to TOKENS_FILE so the parent can search for them. It
 * must exit by itself once everything is stopped.
 */
import { writeFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { Admission } from '../../../src/admission/admission.js';
import type { AdmissionSpanResult, AdmissionTracer } from '../../../src/admission/tracer.js';
import { createBackend, type LiveKitProviderConfig } from '../../../src/index.js';
import { LiveKitStandIn } from '../livekit-stand-in/stand-in.js';

const apiKey = 'APIscenario';
const apiSecret = process.env.SCENARIO_SECRET!;
const tokens: string[] = [];
const log = (label: string, value: unknown): void => {
  console.log(`${label}: ${inspect(value, { depth: 8 })}`);
  console.error(
    `${label}: ${JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`,
  );
};

const tracer: AdmissionTracer = {
  startAdmission(info) {
    log('span.start', info);
    return {
      runCreate: (create) => create(),
      end: (result: AdmissionSpanResult) => log('span.end', result),
    };
  },
};

const standIn = await new LiveKitStandIn({ keys: { [apiKey]: apiSecret } }).start();
const providerConfig: LiveKitProviderConfig = {
  url: standIn.wsUrl,
  apiKey,
  apiSecret,
  agentName: 'intake',
  requestTimeoutMs: 300,
  reconcile: false,
  health: { timeoutMs: 300 },
  join: { connectTimeoutMs: 300 },
};
const backend = await createBackend('livekit', { providerConfig });
await backend.start();
for (const event of [
  'room_ended',
  'cleanup_failed',
  'reconcile_failed',
  'webhook_refused',
] as const) {
  backend.on(event, (payload) => log(`event.${event}`, payload));
}
const admission = new Admission(backend, { maxConcurrentSessions: 5, health: false, tracer });

// Successes: the tokens minted are the secrets to look for.
const session = await admission.createSession({ userId: 'caller', metadata: { note: 'x' } });
tokens.push(session.connection.token);
log('session', session);
log('session.json', JSON.parse(JSON.stringify(session)));
log('backend', backend);
log('backend.config', backend.config);
log('health', await backend.healthCheck());
log('stats', admission.stats());

// Webhooks: forged, tampered, stale, unsigned.
const body = standIn.webhookBody('room_finished', session.connection.roomName);
for (const authorization of [
  standIn.signWebhook(body, { secret: `${apiSecret}x` }),
  standIn.signWebhook(`${body} `),
  standIn.signWebhook(body, { expiresInSeconds: -600 }),
  undefined,
]) {
  await backend
    .handleWebhook({ body, authorization })
    .catch((error: unknown) => log('webhook', error));
}

// Server failures while creating: 5xx, 429, timeout, wrong credentials, unreachable.
standIn.inject({ methods: ['CreateRoom'], error: 'internal', times: 1 });
standIn.inject({ methods: ['CreateRoom'], error: 'resource_exhausted', times: 1 });
standIn.inject({ methods: ['CreateRoom'], latencyMs: 600, times: 1 });
for (let i = 0; i < 3; i++) {
  await admission
    .createSession({ userId: `u${i}` })
    .catch((error: unknown) => log('create', error));
}
standIn.setKeys({ [apiKey]: `${apiSecret}-rotated` });
await admission.createSession({ userId: 'u' }).catch((error: unknown) => log('create', error));
log('health.refused', await backend.healthCheck());
standIn.inject({ methods: ['DeleteRoom'], error: 'unavailable' });
log('close', await session.close());
standIn.setKeys({ [apiKey]: apiSecret });
standIn.clearFaults();
log('reconcile', await backend.reconcile().catch((error: unknown) => error));

// Config errors, including a secret of the wrong type.
for (const bad of [
  { ...providerConfig, apiSecret: 42 },
  { ...providerConfig, url: 'ftp://x' },
]) {
  await createBackend('livekit', { providerConfig: bad as LiveKitProviderConfig }).catch(
    (error: unknown) => log('config', error),
  );
}

// Join mode: refused and hanging connections (rtc-node logs to stdout meanwhile).
const joiner = await createBackend('livekit', {
  providerConfig: { ...providerConfig, mode: 'join', agentName: undefined },
});
await joiner.start();
for (const mode of ['refuse', 'hang'] as const) {
  standIn.setSignalling(mode);
  const result = await joiner.createSession({ userId: 'j' }).catch((error: unknown) => error);
  log('join', result);
}

await standIn.goDown();
log('health.down', await backend.healthCheck());
await admission.drain({ timeoutMs: 1 });
await Promise.all([backend.stop(), joiner.stop()]);
await standIn.stop();
writeFileSync(process.env.TOKENS_FILE!, JSON.stringify(tokens));
console.log('scenario done');
