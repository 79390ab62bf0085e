import { describe, expectTypeOf, it } from 'vitest';
import {
  AdmissionError,
  type AdmissionErrorCode,
  type AdmissionErrorOptions,
  type AgentCallback,
  type AgentParticipant,
  type BackendConfig,
  BackendError,
  type BackendErrorCode,
  type BackendErrorOptions,
  type BackendOperation,
  type BackendState,
  BaseBackend,
  type CallOptions,
  type ConnectionInfo,
  createSimulatedBackend,
  type HealthState,
  type HealthStatus,
  type Listener,
  type LiveKitBackend,
  type LiveKitBackendEvents,
  ManagedSession,
  type ManagedSessionInit,
  type OpenedSession,
  type OpenSessionRequest,
  type PcmFrame,
  type ProbeResult,
  type ProviderFactory,
  ProviderRegistry,
  providers,
  type ReconcileReport,
  type RemoteEndSource,
  type SessionConfig,
  type SessionEnd,
  type SessionEndReason,
  type SessionState,
  type SessionTeardown,
  SimulatedBackend,
  type SimulatedProviderConfig,
  type SimulatedTurn,
  type SimulationModel,
  type SimulationStats,
  type TurnModel,
  type TypedEmitter,
  type VoiceBackend,
  type VoiceSession,
  type WebhookAction,
  type WebhookOutcome,
  type WebhookRequest,
} from '../../src/index.js';

declare const liveKit: LiveKitBackend;
declare const session: VoiceSession;
interface PingEvents {
  ping: { readonly at: number };
}
declare const emitter: TypedEmitter<PingEvents>;

/** A provider as a user writes one, on the shared bookkeeping. */
class EchoBackend extends BaseBackend {
  readonly provider = 'echo';

  constructor(config: BackendConfig) {
    super(config);
  }

  protected async openSession(request: OpenSessionRequest): Promise<OpenedSession<ConnectionInfo>> {
    expectTypeOf(request.signal).toEqualTypeOf<AbortSignal>();
    expectTypeOf(request.config).toEqualTypeOf<SessionConfig>();
    const teardown: SessionTeardown = async (reason) => {
      expectTypeOf(reason).toEqualTypeOf<SessionEndReason>();
    };
    return { connection: { url: 'ws://127.0.0.1', roomName: request.id, token: '' }, teardown };
  }

  protected async probeHealth(): Promise<ProbeResult> {
    return { healthy: true, status: 'healthy' };
  }
}

describe('BaseBackend', () => {
  it('a subclass is a VoiceBackend that implements openSession and probeHealth', () => {
    const echo = new EchoBackend({ maxConcurrentSessions: 5 });
    expectTypeOf(echo).toExtend<VoiceBackend>();
    expectTypeOf(echo.createSession({ userId: 'u' })).toEqualTypeOf<
      Promise<VoiceSession<ConnectionInfo>>
    >();
    expectTypeOf(echo.state).toEqualTypeOf<BackendState>();
    expectTypeOf(echo.healthCheck).parameters.toEqualTypeOf<[options?: CallOptions]>();
    // @ts-expect-error the constructor is for subclasses
    void new BaseBackend({});
    // @ts-expect-error openSession is the subclass's, not the user's
    void echo.openSession;
  });

  it('a subclass must implement openSession', () => {
    // @ts-expect-error non-abstract class does not implement inherited abstract members
    class Incomplete extends BaseBackend {
      readonly provider = 'incomplete';
      protected async probeHealth(): Promise<ProbeResult> {
        return { healthy: true, status: 'healthy' };
      }
    }
    void Incomplete;
  });

  it('ProbeResult is a health status without the fields the base class measures', () => {
    expectTypeOf<ProbeResult>().toEqualTypeOf<Omit<HealthStatus, 'checkedAt' | 'latencyMs'>>();
    expectTypeOf<HealthStatus['status']>().toEqualTypeOf<HealthState>();
    expectTypeOf<HealthState>().toEqualTypeOf<'healthy' | 'degraded' | 'unhealthy'>();
  });
});

describe('ManagedSession', () => {
  it('is a VoiceSession built from its init, with the connection type it is given', () => {
    interface Room extends ConnectionInfo {
      readonly sid: string;
    }
    expectTypeOf<ManagedSession<Room>>().toExtend<VoiceSession<Room>>();
    expectTypeOf<ManagedSession<Room>['connection']['sid']>().toBeString();
    expectTypeOf(ManagedSession<Room>).constructorParameters.toEqualTypeOf<
      [init: ManagedSessionInit<Room>]
    >();
    expectTypeOf<ManagedSessionInit<Room>['onEnded']>().toEqualTypeOf<
      (session: ManagedSession<Room>, end: SessionEnd) => void
    >();
    expectTypeOf<ManagedSessionInit<Room>['teardown']>().toEqualTypeOf<SessionTeardown>();
    expectTypeOf<SessionTeardown>().toEqualTypeOf<(reason: SessionEndReason) => Promise<void>>();
  });
});

describe('sessions', () => {
  it('a session has a state, a connection, and closes once with a reason', () => {
    expectTypeOf(session.state).toEqualTypeOf<SessionState>();
    expectTypeOf<SessionState>().toEqualTypeOf<'active' | 'closing' | 'closed'>();
    expectTypeOf(session.connection).toEqualTypeOf<ConnectionInfo>();
    expectTypeOf(session.close).parameters.toEqualTypeOf<[reason?: SessionEndReason]>();
    expectTypeOf(session.closed).toEqualTypeOf<Promise<SessionEnd>>();
    expectTypeOf<SessionEnd['error']>().toEqualTypeOf<BackendError | undefined>();
    expectTypeOf<'lease_lost'>().toExtend<SessionEndReason>();
    // @ts-expect-error not an end reason
    void session.close('done');
  });

  it('an agent callback answers text with text, or nothing', () => {
    expectTypeOf<AgentCallback>().returns.toEqualTypeOf<
      string | undefined | Promise<string | undefined>
    >();
    expectTypeOf<AgentCallback>().parameter(1).toEqualTypeOf<{
      readonly sessionId: string;
      readonly signal: AbortSignal;
    }>();
    expectTypeOf<SessionConfig['agentCallback']>().toEqualTypeOf<AgentCallback | undefined>();
  });
});

describe('providers', () => {
  it('a provider factory takes a backend config and gives a backend, at once or later', () => {
    expectTypeOf<ProviderFactory>().toEqualTypeOf<
      (config: BackendConfig) => VoiceBackend | Promise<VoiceBackend>
    >();
    expectTypeOf<BackendConfig<{ region: string }>['providerConfig']>().toEqualTypeOf<
      { region: string } | undefined
    >();
  });

  it('providers is the registry createBackend uses; a registry starts empty or from a record', () => {
    expectTypeOf(providers).toEqualTypeOf<ProviderRegistry>();
    expectTypeOf(providers.names()).toEqualTypeOf<string[]>();
    expectTypeOf(providers.create('simulated')).toEqualTypeOf<Promise<VoiceBackend>>();
    providers.register('echo', (config) => new EchoBackend(config), { replace: true });
    // @ts-expect-error a factory gives a backend
    providers.register('echo', () => 'echo');
    expectTypeOf(
      new ProviderRegistry({ echo: (config) => new EchoBackend(config) }),
    ).toEqualTypeOf<ProviderRegistry>();
  });
});

describe('simulated provider', () => {
  it('createSimulatedBackend builds a SimulatedBackend, at once, from the simulated config', () => {
    expectTypeOf(createSimulatedBackend).parameters.toEqualTypeOf<
      [config?: BackendConfig<SimulatedProviderConfig>]
    >();
    const simulated = createSimulatedBackend({ providerConfig: { setupLatencyMs: 10 } });
    expectTypeOf(simulated).toEqualTypeOf<SimulatedBackend>();
    expectTypeOf(simulated).toExtend<BaseBackend>();
    // @ts-expect-error no such simulated option
    createSimulatedBackend({ providerConfig: { latencyMs: 10 } });
  });

  it('reports its model, its statistics and each turn', () => {
    const simulated = new SimulatedBackend();
    expectTypeOf(simulated.model).toEqualTypeOf<SimulationModel>();
    expectTypeOf<SimulationModel['health']>().toEqualTypeOf<HealthState>();
    expectTypeOf(simulated.simulationStats()).toEqualTypeOf<SimulationStats>();
    expectTypeOf<SimulationStats['peakSetups']>().toBeNumber();
    simulated.onTurn((turn) => expectTypeOf(turn).toEqualTypeOf<SimulatedTurn>());
    expectTypeOf<SimulatedTurn['latencyMs']>().toBeNumber();
    expectTypeOf<TurnModel['capacityChanges']>().toEqualTypeOf<
      readonly { readonly atMs: number; readonly capacity: number }[]
    >();
    // @ts-expect-error a health state, not a boolean
    simulated.setHealth(false);
  });
});

describe('LiveKit provider types', () => {
  it('webhooks: a request in, an outcome with its action out', () => {
    expectTypeOf(liveKit.handleWebhook).parameters.toEqualTypeOf<[request: WebhookRequest]>();
    expectTypeOf(liveKit.handleWebhook).returns.toEqualTypeOf<Promise<WebhookOutcome>>();
    expectTypeOf<WebhookRequest['body']>().toEqualTypeOf<string | Uint8Array>();
    expectTypeOf<WebhookOutcome['action']>().toEqualTypeOf<WebhookAction>();
    expectTypeOf<WebhookAction>().toEqualTypeOf<'ended' | 'closed' | 'deleted' | 'ignored'>();
    // @ts-expect-error the Authorization header is required, even if absent
    void liveKit.handleWebhook({ body: '' });
  });

  it('reconcile reports what it found; events say how a room ended', () => {
    expectTypeOf(liveKit.reconcile()).toEqualTypeOf<Promise<ReconcileReport>>();
    expectTypeOf<ReconcileReport['errors']>().toEqualTypeOf<readonly BackendError[]>();
    expectTypeOf<LiveKitBackendEvents['room_ended']['via']>().toEqualTypeOf<RemoteEndSource>();
    expectTypeOf<RemoteEndSource>().toEqualTypeOf<'webhook' | 'reconcile' | 'agent_disconnected'>();
    liveKit.on('cleanup_failed', (event) => {
      expectTypeOf(event.error).toEqualTypeOf<BackendError>();
    });
  });

  it('the in-process agent participant exchanges 16-bit PCM frames', () => {
    const agent = liveKit.agentParticipant('session');
    expectTypeOf(agent).toEqualTypeOf<AgentParticipant | undefined>();
    expectTypeOf<AgentParticipant['publishAudio']>().parameters.toEqualTypeOf<[frame: PcmFrame]>();
    expectTypeOf<PcmFrame['data']>().toEqualTypeOf<Int16Array>();
    expectTypeOf<AgentParticipant['onText']>().returns.toEqualTypeOf<() => void>();
  });
});

describe('emitter', () => {
  it('a TypedEmitter gives each listener its event payload and an unsubscribe', () => {
    expectTypeOf(emitter.on('ping', () => undefined)).toEqualTypeOf<() => void>();
    expectTypeOf<Listener<number>>().toEqualTypeOf<(event: number) => void>();
    // @ts-expect-error no such event
    emitter.on('pong', () => undefined);
    // @ts-expect-error emit is the emitter's own
    emitter.emit('ping', { at: 0 });
  });
});

describe('errors', () => {
  it('error constructors take a code, a message and their options', () => {
    expectTypeOf(AdmissionError).constructorParameters.toEqualTypeOf<
      [code: AdmissionErrorCode, message: string, options?: AdmissionErrorOptions]
    >();
    expectTypeOf(BackendError).constructorParameters.toEqualTypeOf<
      [code: BackendErrorCode, op: BackendOperation, message: string, options?: BackendErrorOptions]
    >();
    expectTypeOf<BackendError['op']>().toEqualTypeOf<BackendOperation>();
    expectTypeOf<'reconcile'>().toExtend<BackendOperation>();
    // @ts-expect-error not an operation
    void new BackendError('timeout', 'connect', 'message');
    // @ts-expect-error retryAfterMs is a number of milliseconds
    void new AdmissionError('capacity', 'full', { retryAfterMs: '1s' });
  });
});
