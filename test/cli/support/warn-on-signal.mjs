// `node --import ./warn-on-signal.mjs`: on SIGUSR2 the process gets the warnings a running
// gateway may see: a dependency's deprecation, one of the library's own, and Node's
// MaxListenersExceededWarning.
import { EventEmitter } from 'node:events';

process.on('SIGUSR2', () => {
  process.emitWarning('old API', {
    type: 'DeprecationWarning',
    code: 'DEP_EXAMPLE',
    detail: 'use the new one',
  });
  process.emitWarning('join failed: timeout', 'VoiceAdmissionLiveKitWarning');
  const emitter = new EventEmitter();
  emitter.setMaxListeners(1);
  emitter.on('event', () => {});
  emitter.on('event', () => {});
});
