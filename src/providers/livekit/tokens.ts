import { BackendError } from '../../iface/errors.js';
import { type LiveKitSettings, MAX_IDENTITY_BYTES } from './config.js';
import { PROVIDER } from './errors.js';
import type { ServerSdk } from './sdk.js';

/**
 * Refuses, before any server call, a `userId` its caller could not join with: the server
 * refuses a longer identity at join (400), and in join mode a caller with the agent
 * participant's identity would replace it in the room (one participant per identity).
 */
export function assertCallerIdentity(settings: LiveKitSettings, userId: string): void {
  const bytes = Buffer.byteLength(userId, 'utf8');
  const why =
    bytes > MAX_IDENTITY_BYTES
      ? `is ${bytes} bytes in UTF-8: LiveKit refuses participant identities over ${MAX_IDENTITY_BYTES} bytes`
      : settings.mode === 'join' && userId === settings.join.identity
        ? `${JSON.stringify(userId)} is the agent participant's identity (join.identity): the caller joining would disconnect the agent`
        : undefined;
  if (why !== undefined) {
    throw new BackendError('setup_failed', 'create_session', `sessionConfig.userId ${why}`, {
      provider: PROVIDER,
    });
  }
}

/**
 * The caller's access token: identity = userId, allowed to join this one room only (no
 * room-wide or admin grants), valid for `tokenTtl` seconds.
 */
export function mintCallerToken(
  sdk: ServerSdk,
  settings: LiveKitSettings,
  room: string,
  identity: string,
): Promise<string> {
  const token = new sdk.AccessToken(settings.apiKey, settings.apiSecret, {
    identity,
    ttl: settings.tokenTtl,
  });
  token.addGrant({
    room,
    roomJoin: true,
    canPublish: true,
    canSubscribe: true,
    canPublishData: true,
  });
  return token.toJwt();
}

/** The token this process joins with in join mode: an agent participant of this one room. */
export function mintAgentToken(
  sdk: ServerSdk,
  settings: LiveKitSettings,
  room: string,
): Promise<string> {
  const { identity, name } = settings.join;
  const token = new sdk.AccessToken(settings.apiKey, settings.apiSecret, {
    identity,
    ttl: settings.tokenTtl,
    ...(name === undefined ? {} : { name }),
  });
  token.kind = 'agent';
  token.addGrant({
    room,
    roomJoin: true,
    agent: true,
    canPublish: true,
    canSubscribe: true,
    canPublishData: true,
  });
  return token.toJwt();
}
