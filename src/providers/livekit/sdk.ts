import { BackendError } from '../../iface/errors.js';
import { PROVIDER } from './errors.js';

export type ServerSdk = typeof import('livekit-server-sdk');
export type RtcSdk = typeof import('@livekit/rtc-node');

/** livekit-server-sdk, loaded on first use so other providers' users never load it. */
export async function loadServerSdk(): Promise<ServerSdk> {
  try {
    return await import('livekit-server-sdk');
  } catch (error) {
    throw new BackendError(
      'internal',
      'create_backend',
      'the livekit provider needs livekit-server-sdk: npm install livekit-server-sdk',
      { provider: PROVIDER, cause: error },
    );
  }
}

/** @livekit/rtc-node (a native module), loaded only in join mode. */
export async function loadRtcSdk(): Promise<RtcSdk> {
  try {
    return await import('@livekit/rtc-node');
  } catch (error) {
    throw new BackendError(
      'internal',
      'start',
      "mode 'join' needs the optional peer dependency @livekit/rtc-node: npm install @livekit/rtc-node",
      { provider: PROVIDER, cause: error },
    );
  }
}
