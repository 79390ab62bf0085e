import { readFileSync } from 'node:fs';
import { JobRequest } from '@livekit/agents';
import { Job, Room } from '@livekit/protocol';
import { RoomServiceClient } from 'livekit-server-sdk';
import { expect, it } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import { admitAgentJobs } from '../../src/integrations/livekit-agents.js';
import { API_KEY, API_SECRET, liveKitBackend, startStandIn } from '../providers/livekit/fixture.js';
import { ControlledBackend } from '../support/controlled-backend.js';

/** The `tenantOf` of docs/autoscaling.md's agent worker, as written there. */
function documentedTenantOf(): (job: JobRequest) => string {
  const doc = readFileSync(new URL('../../docs/autoscaling.md', import.meta.url), 'utf8');
  const source = /^\s*tenantOf: (\(job\) => .*),$/m.exec(doc)?.[1];
  expect(source).toBeDefined();
  return new Function(`return ${source}`)() as (job: JobRequest) => string;
}

it("docs/autoscaling.md's agent worker counts a job of a LiveKit provider session against the session's tenant", async () => {
  const standIn = await startStandIn();
  const backend = await liveKitBackend(standIn);
  const session = await backend.createSession({
    userId: 'caller-with-a-long-identity-0123456789',
    tenantId: 'acme',
    metadata: { campaign: 'spring', locale: 'en-GB' },
  });
  const rooms = new RoomServiceClient(standIn.url, API_KEY, API_SECRET);
  const [room] = await rooms.listRooms([session.connection.roomName]);

  const admission = new Admission(new ControlledBackend(), {
    maxConcurrentSessions: 2,
    tenants: { max: { acme: 1 } },
    health: false,
    telemetry: false,
  });
  const tenantOf = documentedTenantOf();
  const jobs = admitAgentJobs(admission, { waitForSlotMs: 0, tenantOf });
  const answers: string[] = [];
  const offer = (id: string, inRoom: Job['room'] = room) =>
    new JobRequest(
      new Job({ id, ...(inRoom === undefined ? {} : { room: inRoom }) }),
      async () => {
        answers.push('rejected');
      },
      async () => {
        answers.push('accepted');
      },
    );
  await jobs.requestFunc(offer('AJ_1'));
  expect(admission.stats().tenants.map((t) => t.tenantId)).toEqual(['acme']);
  // acme's cap of 1 holds for a second job of its rooms.
  await jobs.requestFunc(offer('AJ_2'));
  expect(answers).toEqual(['accepted', 'rejected']);
  // A room created without metadata, by something else, counts against 'default'.
  expect(tenantOf(offer('AJ_3', new Room({ name: 'elsewhere' })))).toBe('default');
  await session.close();
});
