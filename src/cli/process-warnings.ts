import type { FastifyBaseLogger } from 'fastify';
import { messageOf } from '../internal/thrown.js';
import { redactForLog } from './gateway/log-errors.js';

/**
 * Node's own settings of its warning output. When the operator used one, Node prints (or
 * not) as told: a JSON line could not honour `--disable-warning` or the file of
 * `--redirect-warnings` without reading Node's options the way Node does.
 */
const WARNING_FLAGS =
  /^--(no-warnings|redirect-warnings|disable-warning|trace-warnings|trace-deprecation)\b/;

/** A cause's message can be a whole server reply: the line keeps its start. */
const MAX_CAUSE_MESSAGE_LENGTH = 500;

/**
 * The failure behind a warning (the library's warnings carry one), as its name and message:
 * enough to tell a Redis reply from a socket error without the stack of a log line per cause.
 */
function describeCause(
  cause: unknown,
  secrets: readonly string[],
): { name?: string; message: string } {
  // Redacted before it is cut: half a token would no longer be recognised.
  const message = redactForLog(messageOf(cause), secrets);
  const bounded =
    message.length > MAX_CAUSE_MESSAGE_LENGTH
      ? `${message.slice(0, MAX_CAUSE_MESSAGE_LENGTH)}…`
      : message;
  return cause instanceof Error ? { name: cause.name, message: bounded } : { message: bounded };
}

/**
 * Process warnings (a MaxListenersExceededWarning, a DeprecationWarning, the library's
 * `VoiceAdmission*Warning`s) go to `log` as JSON lines at `warn`, in place of Node's plain
 * print on stderr, which log pipelines cannot parse; credentials they quote are redacted as in
 * logged errors, `secrets` too. Node prints them from a `'warning'` listener of its own,
 * `onWarning`, the first one, added before any module runs: that listener is replaced, so each
 * warning is still reported once, and other listeners (those of `--import`ed modules) stay.
 * Nothing changes when the operator set Node's warning output (a flag, or
 * NODE_NO_WARNINGS=1), nor when Node's printer is not found where it should be.
 */
export function logProcessWarnings(log: FastifyBaseLogger, secrets: readonly string[] = []): void {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const [printer] = process.listeners('warning');
  if (
    printer?.name !== 'onWarning' ||
    process.env.NODE_NO_WARNINGS === '1' ||
    flags.some((flag) => WARNING_FLAGS.test(flag))
  ) {
    return;
  }
  process.off('warning', printer);
  process.on('warning', (warning: Error & { code?: unknown; detail?: unknown }) => {
    log.warn(
      {
        warning: {
          name: warning.name,
          code: warning.code,
          // A library warning's message is its failure's: it may quote a request, as in errors.
          message: redactForLog(warning.message, secrets),
          ...(typeof warning.detail === 'string'
            ? { detail: redactForLog(warning.detail, secrets) }
            : {}),
          ...('cause' in warning ? { cause: describeCause(warning.cause, secrets) } : {}),
        },
      },
      'process warning',
    );
  });
}
