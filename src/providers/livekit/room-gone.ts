import { setTimeout as sleep } from 'node:timers/promises';

/** First pause between DeleteRoom attempts the server did not answer; it doubles from there. */
const FIRST_RETRY_MS = 50;

export interface RoomGoneWait {
  /** Deletes the room; resolves `false` when the server says it is not there. */
  deleteRoom(): Promise<boolean>;
  /** The longest a server call may take; each attempt is bounded by it. */
  readonly requestTimeoutMs: number;
  /** Gives up the wait (the backend is stopping). */
  readonly stopped: AbortSignal;
  /** The first attempt the server did not answer (reported once per wait, not per attempt). */
  onFirstFailure(error: unknown): void;
}

/**
 * After a `CreateRoom` that got no answer, deletes the room until it is known gone: the server
 * may have read the request and create the room when it answers again, even just after it
 * starts answering. So the room counts as gone only once the server has answered, deleted or
 * not found, over at least `requestTimeoutMs` without a room found since; a room found is
 * deleted and that wait starts again. Attempts the server does not answer are retried with a
 * backoff up to `requestTimeoutMs`. Resolves once the room is known gone, or stopped.
 */
export async function untilRoomGone(wait: RoomGoneWait): Promise<void> {
  const { requestTimeoutMs, stopped } = wait;
  let answeringSince: number | undefined;
  let retryMs = FIRST_RETRY_MS;
  let failed = false;
  while (!stopped.aborted) {
    let pauseMs: number;
    try {
      const existed = await wait.deleteRoom();
      const now = Date.now();
      if (existed || answeringSince === undefined) answeringSince = now;
      else if (now - answeringSince >= requestTimeoutMs) return;
      pauseMs = answeringSince + requestTimeoutMs - now;
      retryMs = FIRST_RETRY_MS;
    } catch (error) {
      // Not answering again: a CreateRoom it read may still be served once it does.
      answeringSince = undefined;
      if (!failed) wait.onFirstFailure(error);
      failed = true;
      pauseMs = retryMs;
      retryMs = Math.min(retryMs * 2, requestTimeoutMs);
    }
    await sleep(pauseMs, undefined, { signal: stopped }).catch(() => {
      // Stopped: the loop ends.
    });
  }
}
