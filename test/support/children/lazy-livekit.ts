// Reports, on stdout, each import of the LiveKit SDKs while the simulated and then the
// livekit provider are used, to show the SDKs load only when the livekit provider is created.
import { register } from 'node:module';

const hook = `export async function resolve(specifier, context, next) {
  if (/livekit-server-sdk|@livekit\\/rtc-node/.test(specifier)) process.stdout.write('loaded ' + specifier + '\\n');
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);

const { createBackend } = await import('../../../src/index.js');
const simulated = await createBackend('simulated');
await simulated.start();
await simulated.createSession({ userId: 'u' });
await simulated.stop();
process.stdout.write('simulated used\n');
await createBackend('livekit', {
  providerConfig: { url: 'ws://127.0.0.1:7880', apiKey: 'key', apiSecret: 'secret' },
});
process.stdout.write('livekit created\n');
