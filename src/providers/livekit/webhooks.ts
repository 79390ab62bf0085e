import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebhookReceiver } from 'livekit-server-sdk';
import { redact } from '../../backend/redact.js';
import { BackendError } from '../../iface/errors.js';
import { readBoundedText } from '../../internal/read-bounded.js';
import { messageOf } from '../../internal/thrown.js';
import type { LiveKitSettings } from './config.js';
import { PROVIDER } from './errors.js';

/** A webhook as it arrived: the raw body (the signature covers its bytes) and its header. */
export interface WebhookRequest {
  readonly body: string | Uint8Array;
  /** The `Authorization` header: the server puts the signed JWT there, without `Bearer`. */
  readonly authorization: string | undefined;
}

/**
 * `ended`: the session was settled (its room finished, or was re-created under another sid
 * after the server lost it), or, still being created, its room finished: the create fails
 * (unless `CreateRoom` then answers with another sid: that was another room of the name);
 * `closed`: the caller left and the session is closing; `deleted`: a room re-created after
 * its session ended (a late caller) is being deleted.
 */
export type WebhookAction = 'ended' | 'closed' | 'deleted' | 'ignored';

/** Every `WebhookAction` (a record, so that one added to the type must be added here). */
const ACTIONS: Record<WebhookAction, true> = {
  ended: true,
  closed: true,
  deleted: true,
  ignored: true,
};
/** Every `WebhookAction`, for the schemas that describe a webhook's answer. */
export const WEBHOOK_ACTIONS = Object.keys(ACTIONS) as WebhookAction[];

export interface WebhookOutcome {
  readonly event: string;
  readonly roomName: string | undefined;
  readonly sessionId: string | undefined;
  readonly action: WebhookAction;
}

/** What a room starting or being joined did. */
export interface RoomSeen {
  /** The session it ended: the session's own room is gone, this one was created since. */
  readonly endedSession: string | undefined;
  /** It is a re-creation with no session behind it, being deleted. */
  readonly deleting: boolean;
}

/** What a verified webhook acts on. */
export interface WebhookTarget {
  /**
   * The room (`sid`, when told) finished on the server; returns the session it settled, or
   * whose create it fails, if we own the room.
   */
  roomFinished(roomName: string, sid: string | undefined): string | undefined;
  /** A participant left; resolves the session it closes, if that was the caller. */
  participantLeft(roomName: string, identity: string): Promise<string | undefined>;
  /** A room started or was joined (`sid` tells that room from others of the same name). */
  roomSeen(roomName: string, sid: string | undefined): RoomSeen;
  /** A webhook was refused (already verified to change nothing). */
  refused(error: BackendError): void;
}

/**
 * Verifies LiveKit webhooks with livekit-server-sdk's `WebhookReceiver` (JWT signed with our
 * API secret, sha256 of the body in its claims) before anything is read from them, then ends
 * sessions on `room_finished` (and closes them on the caller's `participant_left` when asked).
 */
export class WebhookHandler {
  readonly #receiver: WebhookReceiver;
  readonly #options: LiveKitSettings['webhook'];
  readonly #target: WebhookTarget;
  readonly #secrets: readonly string[];
  readonly #apiKey: string;

  constructor(
    receiver: WebhookReceiver,
    options: LiveKitSettings['webhook'],
    target: WebhookTarget,
    credentials: { readonly apiKey: string; readonly secrets: readonly string[] },
  ) {
    const { apiKey, secrets } = credentials;
    this.#apiKey = apiKey;
    this.#receiver = receiver;
    this.#options = options;
    this.#target = target;
    this.#secrets = secrets;
  }

  /**
   * Verifies and applies one webhook. Rejects with a `BackendError` (`unauthenticated`, op
   * `webhook`) when the signature is missing, forged, stale or does not match the body; a
   * refused webhook changes nothing.
   */
  async handle(request: WebhookRequest): Promise<WebhookOutcome> {
    const body =
      typeof request.body === 'string' ? request.body : Buffer.from(request.body).toString('utf8');
    let event: Awaited<ReturnType<WebhookReceiver['receive']>>;
    try {
      if (request.authorization === undefined || request.authorization === '') {
        throw new Error('authorization header is empty');
      }
      event = await this.#receiver.receive(
        body,
        request.authorization,
        false,
        this.#options.clockToleranceSeconds,
      );
    } catch (error) {
      const refusal = this.#refusal(error, request.authorization);
      this.#target.refused(refusal);
      throw refusal;
    }
    const roomName = event.room?.name || undefined;
    const roomSid = event.room?.sid || undefined;
    const outcome = (action: WebhookAction, sessionId?: string): WebhookOutcome => ({
      event: event.event,
      roomName,
      sessionId,
      action: sessionId === undefined ? 'ignored' : action,
    });
    if (roomName === undefined) return outcome('ignored');
    if (event.event === 'room_finished') {
      return outcome('ended', this.#target.roomFinished(roomName, roomSid));
    }
    if (event.event === 'room_started' || event.event === 'participant_joined') {
      const seen = this.#target.roomSeen(roomName, roomSid);
      if (seen.endedSession !== undefined) return outcome('ended', seen.endedSession);
      if (seen.deleting) {
        return { event: event.event, roomName, sessionId: undefined, action: 'deleted' };
      }
    }
    const identity = event.participant?.identity;
    // `participant_connection_aborted`: the caller joined but its connection never came up.
    const left =
      event.event === 'participant_left' || event.event === 'participant_connection_aborted';
    if (left && this.#options.endOnCallerLeft && identity) {
      return outcome('closed', await this.#target.participantLeft(roomName, identity));
    }
    return outcome('ignored');
  }

  /** A ready `node:http` request listener for the webhook route. */
  readonly nodeHandler = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'POST') {
      reply(res, 405, { error: 'webhooks are POSTed' }, { Allow: 'POST' });
      req.resume();
      return;
    }
    // Not destroyed when the read stops at the bound: the connection carries the 413.
    readBoundedText(req.iterator({ destroyOnReturn: false }), this.#options.maxBodyBytes).then(
      async (body) => {
        if (body === undefined) {
          // The rest of the body is left unread: the connection cannot carry another request.
          reply(res, 413, { error: 'webhook body too large' }, { Connection: 'close' });
          return;
        }
        const { authorization } = req.headers;
        try {
          const outcome = await this.handle({ body, authorization });
          reply(res, 200, outcome);
        } catch (error) {
          const refused = error instanceof BackendError && error.code === 'unauthenticated';
          const message = messageOf(error);
          reply(res, refused ? 401 : 500, { error: redact(message, this.#secrets) });
        }
      },
      (error: unknown) => {
        const message = messageOf(error);
        reply(res, 400, { error: `could not read the webhook body: ${message}` });
      },
    );
  };

  #refusal(error: unknown, authorization: string | undefined): BackendError {
    // The server signs with its `webhook.api_key`; a key other than ours fails the signature
    // check first, which would read as a forgery.
    const issuer = unverifiedIssuer(authorization);
    const why =
      issuer !== undefined && issuer !== this.#apiKey
        ? `signed with API key ${JSON.stringify(issuer.slice(0, 64))}, not ours: the server's webhook.api_key must be this provider's apiKey`
        : this.#why(error);
    return new BackendError('unauthenticated', 'webhook', `webhook refused: ${why}`, {
      provider: PROVIDER,
      cause: error,
    });
  }

  #why(error: unknown): string {
    const code = (error as { code?: unknown } | null)?.code;
    const message = messageOf(error);
    switch (code) {
      case 'ERR_JWT_EXPIRED':
        return 'stale: its signature has expired';
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
        return 'forged: the signature does not verify with our API secret';
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
        const claim = (error as { claim?: unknown }).claim;
        if (claim === 'nbf') return 'its signature is not valid yet';
        return `signature claim check failed (${String(claim)})`;
      }
      case 'ERR_JWS_INVALID':
      case 'ERR_JWT_INVALID':
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
      case 'ERR_JOSE_NOT_SUPPORTED':
        return 'the Authorization header is not a valid signed token';
    }
    if (message === 'authorization header is empty') return 'no Authorization header';
    if (message.startsWith('sha256 checksum')) {
      return 'tampered: the body does not match its signed sha256';
    }
    return redact(message, this.#secrets);
  }
}

/** The `iss` claim of a JWT, read without verifying it (to explain a refusal only). */
function unverifiedIssuer(token: string | undefined): string | undefined {
  try {
    const payload = token?.split('.')[1];
    if (payload === undefined) return undefined;
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const iss = (claims as { iss?: unknown } | null)?.iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

function reply(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
