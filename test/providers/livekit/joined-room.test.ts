import { EventEmitter } from 'node:events';
import type { AudioSource, Room } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { parseLiveKitConfig } from '../../../src/providers/livekit/config.js';
import {
  JoinedRoom,
  type JoinRequest,
  type PcmFrame,
} from '../../../src/providers/livekit/join.js';
import type { RtcSdk } from '../../../src/providers/livekit/sdk.js';

/**
 * A fake of the few @livekit/rtc-node pieces a joined room touches (no server can be reached
 * here): a Room that emits events and records sent text, and an AudioStream that yields given
 * frames. It checks the routing between the room and the application, not rtc-node itself.
 */
class FakeRoom extends EventEmitter {
  textHandler:
    | ((reader: { readAll(): Promise<string> }, from: { identity: string }) => void)
    | undefined;
  readonly sent: { text: string; topic: string | undefined }[] = [];
  disconnected = false;
  readonly localParticipant = {
    sendText: async (text: string, options?: { topic?: string }) => {
      this.sent.push({ text, topic: options?.topic });
    },
  };

  registerTextStreamHandler(_topic: string, handler: FakeRoom['textHandler']): void {
    this.textHandler = handler;
  }

  async disconnect(): Promise<void> {
    this.disconnected = true;
  }

  /** A participant sends a text message. */
  say(identity: string, text: string): void {
    this.textHandler!({ readAll: async () => text }, { identity });
  }
}

const frame: PcmFrame = {
  data: new Int16Array(4),
  sampleRate: 48_000,
  channels: 1,
  samplesPerChannel: 4,
};

const fakeRtc = {
  RoomEvent: { TrackSubscribed: 'trackSubscribed', Disconnected: 'disconnected' },
  TrackKind: { KIND_AUDIO: 1 },
  AudioStream: class {
    async *[Symbol.asyncIterator]() {
      yield frame;
      yield frame;
    }
    async cancel() {}
  },
} as unknown as RtcSdk;

const settings = parseLiveKitConfig(
  { url: 'ws://127.0.0.1:7880', apiKey: 'k', apiSecret: 's', mode: 'join' },
  {},
);

function joined(overrides: Partial<JoinRequest> = {}) {
  const room = new FakeRoom();
  const lost: string[] = [];
  const source = { close: async () => undefined } as unknown as AudioSource;
  const participant = new JoinedRoom(room as unknown as Room, source, {
    rtc: fakeRtc,
    settings,
    url: settings.wsUrl,
    token: 't',
    roomName: 'va-1',
    sessionId: 'session-1',
    agentCallback: undefined,
    signal: new AbortController().signal,
    onLost: () => lost.push('lost'),
    onLateConnect: () => undefined,
    ...overrides,
  });
  return { room, participant, lost };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('join mode: routing between the room and the application', () => {
  it('routes text through agentCallback and sends the reply back on the chat topic', async () => {
    const seen: unknown[] = [];
    const { room, participant } = joined({
      agentCallback: (input, context) => {
        seen.push({ ...input, sessionId: context.sessionId });
        return input.text === 'hi' ? 'hello' : undefined;
      },
    });
    const texts: string[] = [];
    participant.onText((text, from) => texts.push(`${from}: ${text}`));
    room.say('caller', 'hi');
    room.say('caller', 'nothing to say to that');
    await settle();
    expect(texts).toEqual(['caller: hi', 'caller: nothing to say to that']);
    expect(seen).toEqual([
      { text: 'hi', participantIdentity: 'caller', sessionId: 'session-1' },
      { text: 'nothing to say to that', participantIdentity: 'caller', sessionId: 'session-1' },
    ]);
    expect(room.sent).toEqual([{ text: 'hello', topic: 'lk.chat' }]);
  });

  it('hands audio of subscribed audio tracks to listeners, with who it came from', async () => {
    const { room, participant } = joined();
    const heard: string[] = [];
    participant.onAudioFrame((f, from) => heard.push(`${from}:${f.samplesPerChannel}`));
    room.emit('trackSubscribed', { kind: 1 }, {}, { identity: 'caller' });
    room.emit('trackSubscribed', { kind: 2 }, {}, { identity: 'camera' });
    await settle();
    expect(heard).toEqual(['caller:4', 'caller:4']);
  });

  it('reports losing the room unless it left on purpose', async () => {
    const a = joined();
    a.room.emit('disconnected');
    expect(a.lost).toEqual(['lost']);

    const b = joined();
    await b.participant.leave();
    b.room.emit('disconnected');
    expect(b.lost).toEqual([]);
    expect(b.room.disconnected).toBe(true);
  });
});
