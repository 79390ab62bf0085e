import { ConfigError } from '../../iface/errors.js';
import type { SessionConfig } from '../../iface/session.js';
import { messageOf } from '../../internal/thrown.js';
import { type LiveKitSettings, MAX_IDENTITY_BYTES } from './config.js';

/**
 * What LiveKit could never serve, refused before any server call (and, under admission,
 * before a slot is taken): a `userId` its caller could not join with, since the server refuses
 * a longer identity at join (400) and, in join mode, a caller with the agent participant's
 * identity would replace it in the room (one participant per identity); and `metadata` that
 * cannot become the room's JSON metadata.
 */
export function checkLiveKitSessionConfig(settings: LiveKitSettings, config: SessionConfig): void {
  const { userId } = config;
  const bytes = Buffer.byteLength(userId, 'utf8');
  if (bytes > MAX_IDENTITY_BYTES) {
    throw new ConfigError(
      'sessionConfig.userId',
      `must be at most ${MAX_IDENTITY_BYTES} bytes in UTF-8 (LiveKit's participant identity limit), got ${bytes}`,
    );
  }
  if (settings.mode === 'join' && userId === settings.join.identity) {
    throw new ConfigError(
      'sessionConfig.userId',
      `must not be the agent participant's identity (providerConfig.join.identity, ${JSON.stringify(userId)}): the caller joining would disconnect the agent`,
    );
  }
  if (config.metadata !== undefined) {
    try {
      JSON.stringify(config.metadata);
    } catch (error) {
      throw new ConfigError(
        'sessionConfig.metadata',
        `must be JSON-serialisable: ${messageOf(error)}`,
      );
    }
  }
}
