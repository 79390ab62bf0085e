// `node --import ./warn-on-signal.mjs`: on SIGUSR2 the process gets the warnings a running
// gateway may see: a dependency's deprecation, two of the library's own (one with the failure
// behind it as its cause, a long server reply; both quoting credentials), and Node's
// MaxListenersExceededWarning.
import { EventEmitter } from 'node:events';

process.on('SIGUSR2', () => {
  process.emitWarning('old API', {
    type: 'DeprecationWarning',
    code: 'DEP_EXAMPLE',
    detail: 'use the new one',
  });
  process.emitWarning(
    'join failed: timeout (wss://key:lk-secret-0123456789@lk.example)',
    'VoiceAdmissionLiveKitWarning',
  );
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl';
  const reply = new Error(`ERR token ${jwt} ${'x'.repeat(5000)}`);
  reply.name = 'ReplyError';
  const storeWarning = new Error('renewal failed', { cause: reply });
  storeWarning.name = 'VoiceAdmissionStoreWarning';
  process.emitWarning(storeWarning);
  const emitter = new EventEmitter();
  emitter.setMaxListeners(1);
  emitter.on('event', () => {});
  emitter.on('event', () => {});
});
