import { describe, expect, it } from 'vitest';
import { API_KEY, API_SECRET, startedBackend, startWebhookSink } from './fixture.js';

/**
 * A url pointing at some other HTTP service (a reverse proxy's default page, another app on
 * the port): creates and health must say the answer is not LiveKit's, not quote HTML parse
 * errors or "200 instead of 200 OK".
 */
describe('LiveKit provider: a url where another HTTP server answers', () => {
  it.each([
    [404, 'LiveKit CreateRoom failed: 404: not a LiveKit answer, is url a LiveKit server?'],
    [200, 'LiveKit CreateRoom failed: not a LiveKit answer, is url a LiveKit server?'],
  ])(
    'answering %d with HTML: the create and health say it is not LiveKit',
    async (status, message) => {
      const other = await startWebhookSink();
      other.use((_req, res) => {
        res.writeHead(status, { 'content-type': 'text/html' }).end('<html>welcome</html>');
      });
      const wsUrl = new URL(other.url).origin.replace('http:', 'ws:');
      const backend = await startedBackend({ wsUrl, apiKey: API_KEY, apiSecret: API_SECRET });

      const error = await backend.createSession({ userId: 'u' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'unavailable', op: 'create_session', message });
      expect(backend.getActiveSessionCount()).toBe(0);

      const health = await backend.healthCheck();
      expect(health).toMatchObject({ healthy: false, status: 'unhealthy' });
      expect(health.reason).toContain(
        `GET / answered ${status} with something other than LiveKit's OK, is url a LiveKit server?`,
      );
    },
  );
});
