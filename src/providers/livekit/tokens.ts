import type { LiveKitSettings } from './config.js';
import type { ServerSdk } from './sdk.js';

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
