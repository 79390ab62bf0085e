import { messageOf } from './thrown.js';
/**
 * Reports a failure that no caller or listener can be handed as a process warning named
 * `type` (`VoiceAdmission…Warning`), the error as its cause. Given an Error,
 * `process.emitWarning` drops the type and reports the error under its own name, so a
 * `process.on('warning')` listener could not tell these warnings apart.
 */
export function emitFailureWarning(type: string, failure: unknown): void {
  const warning = new Error(messageOf(failure), {
    cause: failure,
  });
  warning.name = type;
  process.emitWarning(warning);
}
