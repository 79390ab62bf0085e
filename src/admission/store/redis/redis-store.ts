import { randomBytes, randomUUID } from 'node:crypto';
import { PeriodicTask } from '../../../backend/periodic-task.js';
import { noop } from '../../../internal/abort.js';
import { TypedEmitter } from '../../../internal/emitter.js';
import { printableField } from '../../../internal/validate.js';
import { emitFailureWarning } from '../../../internal/warning.js';
import type {
  AcquireRequest,
  AcquireResult,
  CapacityStore,
  ClaimResult,
  Lease,
  Refusal,
  StoreUsage,
} from '../capacity-store.js';
import { MemoryCapacityStore } from '../memory-store.js';
import { CapsCircle } from '../shared-caps.js';
import { Batcher } from './batcher.js';
import { type LimiterKeys, limiterKeys } from './keys.js';
import { LeaseBook, leaseMember, RedisLease } from './lease-book.js';
import {
  type RedisStoreOptions,
  type ResolvedRedisOptions,
  resolveRedisOptions,
} from './options.js';
import {
  connect,
  isWriteRefusal,
  LuaScript,
  type RedisConnection,
  RedisUnavailableError,
  redisFailure,
  withDeadline,
  withoutCredentialArgs,
} from './redis-client.js';
import { evictionProblem } from './requirements.js';
import { BATCH, BIND_SESSION, CLAIM, PURGE, RENEW, USAGE, WRITE_PROBE } from './scripts.js';
import { Wakeups } from './wakeups.js';

/** A release to send; `passedOn` once its lease went to a new holder in the same turn instead. */
interface ReleaseOp {
  readonly release: RedisLease;
  passedOn: boolean;
}
/** A release or an acquire waiting for this turn's batch. */
type LeaseOp = ReleaseOp | { readonly acquire: RedisLease };

/**
 * Calls per script at most. Small batches keep each script short (a script blocks Redis while
 * it runs) and let a busy turn go out as several scripts, so that Redis runs one while this
 * process handles the reply to the one before: 25 measured best between 10 and 200.
 */
const BATCH_MAX = 25;
/** Leases per renewal script at most: keeps each script to a millisecond or two of Redis time. */
const RENEW_CHUNK = 500;
/**
 * Renewal scripts in flight at once: a round takes a few round trips, not one per chunk, while
 * other clients wait behind at most this many scripts.
 */
const RENEW_WINDOW = 4;

/** Statuses of the RENEW script, per lease. */
const RENEWED = 1;
const REASSERTED = 2;
const MISSING = 3;
const KEY_TAKEN = 4;

/** What the `recovery` error event says. */
const DATA_LOST =
  "redis lost the limiter's data (a restart without persistence, a restored snapshot, a failover, a flush or an eviction): new leases wait up to leaseTtlMs while held ones are re-asserted";

/** The CLAIM script's answer while Redis may have lost claims. */
const CLAIM_RECOVERING = -2;

const GLOBAL_FULL: Refusal = Object.freeze({ refused: 'capacity' });
const TENANT_FULL: Refusal = Object.freeze({ refused: 'tenant_capacity' });

const SCRIPTS = {
  batch: new LuaScript(BATCH),
  renew: new LuaScript(RENEW),
  purge: new LuaScript(PURGE),
  claim: new LuaScript(CLAIM),
  bindSession: new LuaScript(BIND_SESSION),
  usage: new LuaScript(USAGE),
  writeProbe: new LuaScript(WRITE_PROBE),
};

/** The store's work that no caller waits for, named in its `error` events. */
export type RedisStoreBackgroundOperation =
  | 'renew'
  | 'purge'
  | 'subscribe'
  | 'connection'
  | 'release'
  | 'config'
  | 'recovery';

/**
 * Why a lease stopped counting: its deadline passed without a renewal (`expired`), Redis had
 * dropped it and the caps left no room to re-assert it (`no_room`), or another live lease took
 * the idempotency key it had claimed (`key_taken`).
 */
export type LeaseLossReason = 'expired' | 'no_room' | 'key_taken';

/** What the Redis store reports besides its answers. */
export interface RedisStoreEvents {
  /**
   * Work no caller waits for failed: a renewal (retried next beat; reported once per outage), a
   * purge of expired leases, the wake-up subscription, the connection (once per outage) or a
   * release (its lease expires within the TTL); or Redis is configured so that the caps may not
   * hold (`config`, checked when the store connects: an eviction policy that may drop the
   * limiter's keys); or Redis lost the limiter's data and new leases wait while held ones are
   * re-asserted (`recovery`).
   */
  error: { readonly operation: RedisStoreBackgroundOperation; readonly error: unknown };
  /**
   * The session holding this lease must end (admission closes it with `lease_lost`): under
   * `leaseLoss: 'end'` for any reason; under `'keep'` only a session with an idempotency key.
   */
  lease_lost: {
    readonly leaseId: string;
    readonly tenantId: string;
    readonly reason: LeaseLossReason;
  };
  /**
   * A session here runs without a lease Redis counts (deadline passed, or dropped with no room
   * to re-assert it). Under `'keep'` it goes on, counted in `stats().unleased`, and this
   * instance admits nothing new until every lease is back in Redis: it answers as if the cap
   * were full, so requests wait in the queue meanwhile.
   */
  lease_overdue: {
    readonly leaseId: string;
    readonly tenantId: string;
    readonly reason: Exclude<LeaseLossReason, 'key_taken'>;
  };
  /** A lease that was overdue is counted in Redis again. */
  lease_restored: { readonly leaseId: string; readonly tenantId: string };
}

/** Counters for telemetry: read them on each collection. */
export interface RedisStoreStats {
  /** Leases this process holds. */
  readonly held: number;
  /** Of those, how many Redis may not count: sessions running past their lease. */
  readonly unleased: number;
  /** Leases that went past their deadline or were found missing, since the store started. */
  readonly overdueTotal: number;
  /** `lease_lost` events since the store started. */
  readonly lostTotal: number;
  /**
   * Grants made by passing a slot released here to a waiter of its tenant, with no Redis call,
   * since the store started: the share of grants that cost no round trip.
   */
  readonly passedTotal: number;
}

/**
 * Slots counted in Redis, shared by every instance using the same `name`: one global cap and
 * per-tenant caps enforced atomically by Lua scripts. Each lease expires `leaseTtlMs` after
 * its last renewal; this process renews its leases (500 per script) every third of the TTL,
 * so a crashed instance's slots come back within the TTL. Each lease has a local deadline, a
 * margin before Redis could expire it; what happens when it passes is the `leaseLoss` policy.
 * See docs/redis.md.
 */
export class RedisCapacityStore extends TypedEmitter<RedisStoreEvents> implements CapacityStore {
  readonly kind = 'redis';
  readonly options: ResolvedRedisOptions;
  /**
   * The Admissions counting through this object, which hold the same caps (other instances, or
   * another store object of the same name, cannot be checked).
   * @internal
   */
  readonly capsCircle = new CapsCircle('redis', '(as every instance using its name must)');
  readonly #keys: LimiterKeys;
  /** The client, once ioredis is loaded (for a URL) and it is made; not yet checked. */
  readonly #client: Promise<RedisConnection>;
  /** The client, once its eviction policy has been checked. */
  readonly #checked: Promise<RedisConnection>;
  /** The connection once `#checked` has resolved. */
  #connection: RedisConnection | undefined;
  readonly #ownsClient: boolean;
  /** Prefix of this instance's lease ids: short, because Redis compares members byte by byte. */
  readonly #instance = randomBytes(9).toString('base64url');
  #sequence = 0;
  readonly #book: LeaseBook;
  /** The limiter epoch last seen, to notice Redis losing its data. */
  #epoch = '';
  readonly #renewal: PeriodicTask<void>;
  /** Releases and acquires of one turn, sent as scripts of at most BATCH_MAX calls. */
  readonly #batch = new Batcher((ops: readonly LeaseOp[]) => this.#runBatch(ops), BATCH_MAX);
  readonly #wakeups: Wakeups;
  /** Per tenant, the releases of this turn whose leases new acquires may take over. */
  readonly #spares = new Map<string, ReleaseOp[]>();
  readonly #lostListeners: ((lease: Lease) => void)[] = [];
  readonly #local: MemoryCapacityStore | undefined;
  #closed = false;
  /** What every caller of close() waits for. */
  #closing: Promise<void> | undefined;
  #purging = false;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #deadlineTimerAt = Number.POSITIVE_INFINITY;
  #overdueTotal = 0;
  #lostTotal = 0;
  #passedTotal = 0;
  /** Redis calls under way, each settled (never rejecting). */
  readonly #inflight = new Set<Promise<void>>();
  /**
   * Redis failed the last call other than by refusing a write (or the connection the store
   * opened went down): any answer ends that.
   */
  #failing = false;
  /**
   * Redis refused a write (out of memory, a replica...) and has taken none since: meanwhile it
   * may answer calls that write nothing, but no lease can be taken.
   */
  #writesRefused = false;
  /** A renewal failure was reported since Redis last took leases at the end of a round. */
  #renewalReported = false;

  constructor(options: RedisStoreOptions) {
    super();
    this.options = resolveRedisOptions(options);
    this.#keys = limiterKeys(this.options.name, this.options.keyPrefix);
    this.#book = new LeaseBook();
    const { client, owned } = connect(options.redis);
    this.#ownsClient = owned;
    // A client that fails to load (bad URL, ioredis missing) surfaces on first use, not here.
    if (owned)
      client.then(
        (connection) => this.#watchConnection(connection),
        () => undefined,
      );
    this.#client = client;
    // Checked before the first call, so that a store that has answered once has been checked:
    // the check is sent first on the connection (this callback runs before any of #run's).
    this.#checked = client.then(async (connection) => {
      await this.#checkConfig(connection);
      return connection;
    });
    this.#checked.then(
      (connection) => {
        this.#connection = connection;
      },
      () => undefined,
    );
    this.#local = this.options.localShare === undefined ? undefined : new MemoryCapacityStore();
    // A failed renewal is retried next beat; leases outlive two missed beats.
    this.#renewal = new PeriodicTask(
      () => this.#renew(),
      (error) => this.#renewalFailed(error),
    );
    this.#renewal.start(Math.max(50, Math.floor(this.options.leaseTtlMs / 3)));
    this.#wakeups = new Wakeups(
      this.#checked,
      this.#keys.channel,
      this.#instance,
      this.options.pollMs,
      (error) => this.#reportError('subscribe', error),
    );
  }

  async tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    this.#assertOpen();
    // close() waits for it: a grant it cut off would hold a slot that nobody renews.
    return this.#track(this.#acquire(request));
  }

  async #acquire(request: AcquireRequest): Promise<AcquireResult> {
    // The scripts separate fields with control characters.
    printableField('tenantId', request.tenantId);
    this.#enforceDeadlines();
    if (this.options.leaseLoss === 'keep' && this.#book.unleased > 0) {
      // Sessions running here are not counted in Redis: admitting more would add to the excess.
      // Full for this instance until they are: requests wait, woken once they are (#renewChunk).
      this.#renewSoon();
      return GLOBAL_FULL;
    }
    const spare = this.#takeSpare(request);
    if (spare !== undefined) return spare;
    const lease = new RedisLease(`${this.#instance}:${++this.#sequence}`, request, undefined);
    let status: number | undefined;
    try {
      status = await this.#batch.add({ acquire: lease });
    } catch (error) {
      this.#withdraw(lease);
      if (this.#local === undefined || this.#closed) throw error;
      return this.#acquireLocally(lease, request);
    }
    this.#enforceDeadlines();
    if (status === 1) {
      // Redis wrote the lease: it takes writes.
      this.#writesRefused = false;
      if (this.#closed) {
        // Nothing renews it from now on: give it back rather than hand out a slot set to expire.
        void this.#sendRelease({ release: lease, passedOn: false });
        throw new RedisUnavailableError(
          'the redis store was closed while the acquire was under way',
        );
      }
      if (performance.now() >= lease.deadline) {
        // Paused or stalled past the lease before the grant arrived: Redis may have handed the
        // slot on already.
        void this.#sendRelease({ release: lease, passedOn: false });
        throw new RedisUnavailableError('the grant arrived after its lease could have expired');
      }
      this.#book.add(lease, lease.deadline);
      this.#armDeadlineTimer();
      return lease;
    }
    // 3: Redis may have lost leases and held ones are being re-asserted; new ones wait.
    return status === 2 ? TENANT_FULL : GLOBAL_FULL;
  }

  /**
   * Gives a slot back; resolves once Redis has it (or, when Redis cannot be reached, once that
   * is reported as an `error` event: the lease then expires within the TTL). Waiters of this
   * process are woken at once, so their retries go in the same script, after the release; a
   * waiter of the same tenant takes the lease over instead, and neither goes to Redis.
   */
  release(lease: Lease): Promise<void> {
    const held = this.#held(lease);
    if (held === undefined) return Promise.resolve(); // released already
    this.#book.delete(held);
    if (held.local !== undefined) {
      this.#local!.release(held.local);
      return Promise.resolve();
    }
    const op: ReleaseOp = { release: held, passedOn: false };
    if (held.passable) {
      const spares = this.#spares.get(held.tenantId);
      if (spares === undefined) this.#spares.set(held.tenantId, [op]);
      else spares.push(op);
    }
    this.#wakeups.wakeSoon();
    return this.#sendRelease(op);
  }

  /**
   * Releases the lease of an acquire that failed: given up on, it may still run once Redis
   * answers again (a stalled Redis, or a command the client sends again after reconnecting), and
   * would hold its slot for a TTL. Sent behind it on the same connection, the release frees it as
   * soon as it is taken. Not reported when it fails: that is the outage the acquire failed with.
   */
  #withdraw(lease: RedisLease): void {
    this.#track(this.#batch.add({ release: lease, passedOn: false })).catch(noop);
  }

  /**
   * Passes a lease of the request's tenant, released in this turn and not sent yet, to the
   * request: neither call goes to Redis. Sent, the release and this acquire would have run in
   * one script, atomically, so the slot could go nowhere else either; the lease keeps its
   * member, expiry and renewals. Only while nothing suggests Redis lost it (renewed within the
   * last two beats) and only under the limits it was taken with.
   */
  #takeSpare(request: AcquireRequest): RedisLease | undefined {
    const op = this.#spares.get(request.tenantId)?.pop();
    if (op === undefined) return undefined;
    const spare = op.release;
    const { leaseTtlMs, leaseMarginMs } = this.options;
    const writtenAt = spare.deadline - leaseTtlMs + leaseMarginMs;
    const now = performance.now();
    if (
      spare.globalLimit !== request.globalLimit ||
      spare.tenantLimit !== request.tenantLimit ||
      // Past its deadline (a margin over a third of the TTL lets that come first), Redis may
      // have handed the slot on already.
      now >= spare.deadline ||
      now - writtenAt > (2 * leaseTtlMs) / 3
    ) {
      return undefined;
    }
    op.passedOn = true;
    this.#passedTotal++;
    // A new object: the previous holder's handle must not release the new holder's slot.
    const lease = new RedisLease(spare.id, request, undefined);
    this.#book.add(lease, spare.deadline);
    this.#armDeadlineTimer();
    return lease;
  }

  /**
   * `lease` as this store holds it; undefined once released, even when its id now belongs to
   * the holder it was passed to.
   */
  #held(lease: Lease): RedisLease | undefined {
    const held = this.#book.get(lease.id);
    return held === lease ? held : undefined;
  }

  #sendRelease(op: ReleaseOp): Promise<void> {
    // close() waits for it: a release cut off by closing would hold a slot for a TTL.
    return this.#track(
      this.#batch.add(op).then(
        () => undefined,
        (error: unknown) => this.#reportError('release', error),
      ),
    );
  }

  /**
   * Counts `work` among the calls close() waits for, until it settles, and then tells
   * `onSettled` how it ended (in the same reaction: no promise more per call).
   */
  #track<T>(
    work: Promise<T>,
    onSettled: (failed: boolean, error: unknown) => void = noop,
  ): Promise<T> {
    const settled: Promise<void> = work.then(
      () => {
        this.#inflight.delete(settled);
        onSettled(false, undefined);
      },
      (error: unknown) => {
        this.#inflight.delete(settled);
        onSettled(true, error);
      },
    );
    this.#inflight.add(settled);
    return work;
  }

  /** One script for the releases and acquires of one turn; a status per acquire. */
  async #runBatch(ops: readonly LeaseOp[]): Promise<(number | undefined)[]> {
    // Flushed: what is released from now on goes to Redis.
    this.#spares.clear();
    const releases: (string | number)[] = [];
    const acquires: (string | number)[] = [];
    for (const op of ops) {
      if ('release' in op) {
        if (!op.passedOn) releases.push(op.release.member, op.release.tenantId);
      } else {
        const { member, tenantId, globalLimit, tenantLimit } = op.acquire;
        acquires.push(member, tenantId, globalLimit, finiteOrNone(tenantLimit));
      }
    }
    if (releases.length === 0 && acquires.length === 0) return ops.map(() => undefined);
    const deadline = this.#deadlineFrom(performance.now());
    const [epoch, backlog, ...statuses] = (await this.#run(SCRIPTS.batch, 'batch', [
      this.#keys.channel,
      this.#instance,
      this.options.leaseTtlMs,
      this.#epoch,
      randomUUID(),
      releases.length / 2,
      ...releases,
      ...acquires,
    ])) as [string, number, ...number[]];
    this.#noteEpoch(epoch);
    this.#noteBacklog(backlog);
    let next = 0;
    return ops.map((op) => {
      if ('release' in op) return undefined;
      op.acquire.deadline = deadline;
      return statuses[next++];
    });
  }

  async usage(): Promise<StoreUsage> {
    const reply = (await this.#run(SCRIPTS.usage, 'usage', [])) as (string | number)[];
    const tenants = new Map<string, number>();
    for (let i = 1; i < reply.length; i += 2) tenants.set(String(reply[i]), Number(reply[i + 1]));
    return { active: Number(reply[0]), tenants };
  }

  async claim(lease: Lease, key: string): Promise<ClaimResult> {
    const held = this.#held(lease);
    if (held === undefined) {
      throw new Error('the lease is not held by this store: released already, or not its own');
    }
    if (held.local !== undefined) {
      // Cannot be checked while Redis is away: claimed in Redis when the lease is re-asserted.
      held.claimKey = key;
      return { claimed: true };
    }
    // Not passed on meanwhile: the claim would land on the next holder's lease.
    held.claiming++;
    let reply: [number, string, string];
    try {
      reply = (await this.#run(SCRIPTS.claim, 'claim', [
        held.member,
        key,
        this.options.leaseTtlMs,
        this.#epoch,
        randomUUID(),
      ])) as [number, string, string];
    } finally {
      held.claiming--;
    }
    const [status, sessionId, epoch] = reply;
    this.#noteEpoch(epoch);
    this.#enforceDeadlines();
    if (this.#held(held) === undefined) {
      throw new Error('the lease was released while its claim was under way');
    }
    if (status === CLAIM_RECOVERING) {
      throw new RedisUnavailableError(
        'redis may have lost claims: keys wait until held ones are re-asserted',
      );
    }
    if (status === 1) {
      if (held.state !== 'leased' || held.ended) {
        // Past its deadline when the reply came: Redis may have expired the lease and its claim
        // since the script ran, and handed the key on. Its release frees what is left.
        throw new RedisUnavailableError('the claim arrived after its lease could have expired');
      }
      held.claimKey = key;
      return { claimed: true };
    }
    return { claimed: false, sessionId: sessionId === '' ? undefined : sessionId };
  }

  async bindSession(lease: Lease, key: string, sessionId: string): Promise<void> {
    const held = this.#held(lease);
    if (held !== undefined) held.sessionId = sessionId;
    if (held?.local !== undefined) return;
    await this.#run(SCRIPTS.bindSession, 'bind session', [
      leaseMember(lease.tenantId, lease.id),
      key,
      sessionId,
    ]);
  }

  onCapacityFreed(listener: (freed?: number) => void): () => void {
    return this.#wakeups.subscribe(listener);
  }

  onLeaseLost(listener: (lease: Lease) => void): () => void {
    this.#lostListeners.push(listener);
    return () => {
      const index = this.#lostListeners.indexOf(listener);
      if (index >= 0) this.#lostListeners.splice(index, 1);
    };
  }

  /**
   * Whether acquires can be served now, that is whether Redis takes leases. False from a call
   * Redis failed, or from the connection the store opened going down, until Redis answers a
   * call again; and from a write Redis refused (OOM, READONLY, MISCONF, NOREPLICAS) until it
   * takes one again (a granted acquire, or the write each renewal beat tries meanwhile): calls
   * that write nothing go through meanwhile and do not count. Every renewal beat (and a
   * reconnection, when the connection was the trouble) tries Redis, so it comes back with no
   * traffic. Always true under `whenUnavailable: { localShare }`, which admits locally meanwhile.
   */
  get available(): boolean {
    return this.#takesLeases || this.#local !== undefined;
  }

  /** Redis answers, and takes writes. */
  get #takesLeases(): boolean {
    return !this.#failing && !this.#writesRefused;
  }

  /** Leases this process holds now. */
  get held(): number {
    return this.#book.size;
  }

  stats(): RedisStoreStats {
    return {
      held: this.#book.size,
      unleased: this.#book.unleased,
      overdueTotal: this.#overdueTotal,
      lostTotal: this.#lostTotal,
      passedTotal: this.#passedTotal,
    };
  }

  /** Runs one renewal now (also done every third of the lease TTL). */
  renewNow(): Promise<void> {
    return this.#renewal.runNow();
  }

  /**
   * Stops renewing and listening, waits for the calls under way (an acquire granted meanwhile
   * is given back and fails), and closes the connection the store opened itself. Every call
   * resolves once all that is done. Leases still held are no longer renewed and expire within
   * the TTL; their deadlines are still watched, so `leaseLoss` applies to their sessions
   * (under `'end'` they are ended in time). Drain admission first to release them at once.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#renewal.stop();
    while (this.#inflight.size > 0) await Promise.all(this.#inflight);
    await this.#wakeups.close();
    if (this.#ownsClient) {
      const client = await this.#client.catch(() => undefined);
      // quit() lets sent commands finish, but waits forever on a connection that is down.
      await withDeadline(client?.quit() ?? Promise.resolve(), this.options.timeoutMs, 'quit').catch(
        () => client?.disconnect(),
      );
    }
  }

  #acquireLocally(lease: RedisLease, request: AcquireRequest): AcquireResult {
    const share = this.options.localShare!;
    const local = this.#local!.tryAcquire({
      tenantId: request.tenantId,
      globalLimit: Math.max(1, Math.floor(request.globalLimit * share)),
      tenantLimit:
        request.tenantLimit === Number.POSITIVE_INFINITY
          ? request.tenantLimit
          : Math.max(1, Math.floor(request.tenantLimit * share)),
    });
    if (local.refused !== undefined) return local;
    lease.local = local;
    this.#book.addLocal(lease);
    return lease;
  }

  /** The local deadline of a lease written by a call that started at `sentAt`. */
  #deadlineFrom(sentAt: number): number {
    return sentAt + this.options.leaseTtlMs - this.options.leaseMarginMs;
  }

  /**
   * Renews every lease held here, RENEW_CHUNK per script, RENEW_WINDOW scripts in flight;
   * re-asserts what Redis lost; acts on the rest by policy. A failed script ends the round
   * (retried next beat). Each chunk is built when it is sent, so a lease released before then
   * is left out, and one released after goes to Redis after it.
   */
  async #renew(): Promise<void> {
    this.#enforceDeadlines();
    const leases = this.#book.list();
    // While Redis fails, one call finds out when it is back (its failure is the outage already
    // reported by the call that failed first): a write while Redis refuses writes; otherwise,
    // with nothing to renew, an empty renewal.
    if (this.#writesRefused) await this.#probeWrites().catch(() => undefined);
    else if (leases.length === 0 && this.#failing) {
      await this.#renewChunk([]).catch(() => undefined);
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < leases.length && !this.#closed) {
        const start = next;
        next += RENEW_CHUNK;
        const chunk = this.#book.holders(leases.slice(start, next));
        if (chunk.length > 0) await this.#renewChunk(chunk);
      }
    };
    await Promise.all(Array.from({ length: RENEW_WINDOW }, worker));
    // The outage is over once Redis takes leases again, not when a round had nothing to write.
    if (this.#takesLeases) this.#renewalReported = false;
  }

  /**
   * Tries a write: while Redis refuses writes, calls that write nothing still go through, so
   * only a write tells when it takes leases again.
   */
  async #probeWrites(): Promise<void> {
    await this.#run(SCRIPTS.writeProbe, 'write probe', []);
    this.#writesRefused = false;
  }

  /** Reported once per outage: a renewal fails on every beat for as long as it lasts. */
  #renewalFailed(error: unknown): void {
    if (this.#renewalReported) return;
    this.#renewalReported = true;
    this.#reportError('renew', error);
  }

  /**
   * Renews `chunk` naming each lease only; the leases Redis no longer has are sent again
   * (`reassert`) with what it takes to re-assert them.
   */
  async #renewChunk(chunk: readonly RedisLease[], reassert = false): Promise<void> {
    const blocked = this.#book.unleased > 0;
    const args: (string | number)[] = [
      this.options.leaseTtlMs,
      this.#epoch,
      randomUUID(),
      reassert ? 0 : chunk.length,
      0,
    ];
    // Renewed leases with a claim name it too: Redis may hold the lease but have lost the claim.
    const claimed: (string | number)[] = [];
    for (const [i, lease] of chunk.entries()) {
      if (!reassert) {
        args.push(lease.member);
        if (lease.claimKey !== '') claimed.push(i + 1, lease.claimKey, lease.sessionId);
      } else
        args.push(
          lease.member,
          lease.tenantId,
          lease.globalLimit,
          finiteOrNone(lease.tenantLimit),
          lease.claimKey,
          lease.sessionId,
        );
    }
    args[4] = claimed.length / 3;
    for (const value of claimed) args.push(value);
    const deadline = this.#deadlineFrom(performance.now());
    const [epoch, backlog, ...statuses] = (await this.#run(SCRIPTS.renew, 'renew', args, true)) as [
      string,
      number,
      ...number[],
    ];
    // Overdue leases first: after a pause, the reply may be older than their deadline.
    this.#enforceDeadlines();
    const timely = performance.now() < deadline;
    const missing: RedisLease[] = [];
    for (const [i, sent] of chunk.entries()) {
      // Released while the script ran, or passed to a new holder (renewed all the same).
      const lease = this.#book.get(sent.id);
      if (lease === undefined) continue;
      const status = statuses[i];
      if (status === RENEWED || status === REASSERTED) {
        if (lease.local !== undefined) {
          // Now counted in Redis: give back the local share.
          this.#local!.release(lease.local);
          lease.local = undefined;
        }
        // A reply later than the deadline it would set renews nothing this process can rely on.
        if (!timely) continue;
        const restored = lease.state === 'unleased';
        this.#book.renewed(lease, deadline);
        if (restored) this.emit('lease_restored', { leaseId: lease.id, tenantId: lease.tenantId });
      } else if (status === MISSING) {
        missing.push(lease);
      } else if (status === KEY_TAKEN) {
        if (this.#book.unlease(lease)) this.#overdueTotal++;
        this.#end(lease, 'key_taken');
      } else if (lease.local === undefined && this.#book.unlease(lease)) {
        // A lease granted locally during an outage that finds no room stays local until released.
        this.#unleased(lease, 'no_room');
      }
    }
    this.#noteEpoch(epoch);
    this.#noteBacklog(backlog);
    this.#armDeadlineTimer();
    // Every session here counted in Redis again: the requests waiting meanwhile may proceed.
    if (blocked && this.#book.unleased === 0) this.#wakeups.wakeSoon();
    // Built now, after this reply: a lease released meanwhile is left out.
    const again = this.#book.holders(missing);
    if (again.length > 0) await this.#renewChunk(again, true);
  }

  /** Acts on every lease whose local deadline has passed. Cheap when none has. */
  #enforceDeadlines(): void {
    const now = performance.now();
    if (now < this.#book.nextDeadline) return;
    for (const lease of this.#book.takeOverdue(now)) this.#unleased(lease, 'expired');
  }

  /**
   * A lease Redis may no longer count: end its session, or keep it and say so. A session with an
   * idempotency key ends under either policy: once Redis drops the lease, another instance may
   * start the same key, and one live session per key is not a soft limit.
   */
  #unleased(lease: RedisLease, reason: Exclude<LeaseLossReason, 'key_taken'>): void {
    this.#overdueTotal++;
    if (this.options.leaseLoss === 'end' || lease.claimKey !== '') {
      this.#end(lease, reason);
      return;
    }
    this.emit('lease_overdue', { leaseId: lease.id, tenantId: lease.tenantId, reason });
    this.#renewSoon();
  }

  /** Tells admission to end the lease's session; the lease stays held until it is released. */
  #end(lease: RedisLease, reason: LeaseLossReason): void {
    if (lease.ended) return;
    lease.ended = true;
    this.#lostTotal++;
    this.emit('lease_lost', { leaseId: lease.id, tenantId: lease.tenantId, reason });
    for (const listener of this.#lostListeners) listener(lease);
  }

  /** One timer, at the earliest local deadline, so leases are acted on without any traffic. */
  #armDeadlineTimer(): void {
    const at = this.#book.nextDeadline;
    if (at >= this.#deadlineTimerAt) return;
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimerAt = at;
    this.#deadlineTimer = setTimeout(
      () => {
        this.#deadlineTimer = undefined;
        this.#deadlineTimerAt = Number.POSITIVE_INFINITY;
        this.#enforceDeadlines();
        this.#armDeadlineTimer();
      },
      Math.max(0, at - performance.now()),
    );
    this.#deadlineTimer.unref();
  }

  #renewSoon(): void {
    if (this.#closed || (this.#book.size === 0 && this.#takesLeases)) return;
    this.#renewal.runNow().catch((error: unknown) => this.#renewalFailed(error));
  }

  /**
   * A new epoch means Redis may have lost leases: re-assert ours now, early in the window, and
   * say so: meanwhile admissions are refused as `capacity`, which alone would not tell why.
   */
  #noteEpoch(epoch: string): void {
    const changed = this.#epoch !== '' && epoch !== this.#epoch;
    this.#epoch = epoch;
    if (!changed) return;
    this.#reportError('recovery', new Error(DATA_LOST));
    this.#renewSoon();
  }

  /** Expired leases left to drop: drops them, PURGE_MAX per script, one script at a time. */
  #noteBacklog(backlog: number): void {
    if (backlog <= 0 || this.#purging || this.#closed) return;
    this.#purging = true;
    const purge = async (): Promise<void> => {
      let left = backlog;
      while (left > 0 && !this.#closed) {
        left = Number(await this.#run(SCRIPTS.purge, 'purge', []));
      }
    };
    purge()
      .catch((error: unknown) => this.#reportError('purge', error))
      .finally(() => {
        this.#purging = false;
      });
  }

  /**
   * Runs a script with a deadline. Once connected the command is written in this very call, so
   * commands reach Redis in the order they were issued; `inOrder` also rules out a NOSCRIPT
   * retry that would send it later (the renewal needs that: see scripts.ts), and without it
   * there is none past the deadline.
   */
  #run(
    script: LuaScript,
    what: string,
    args: readonly (string | number)[],
    inOrder = false,
  ): Promise<unknown> {
    const send = (client: RedisConnection): Promise<unknown> =>
      withDeadline(
        inOrder
          ? script.runInOrder(client, this.#keys.all, args)
          : script.run(client, this.#keys.all, args, performance.now() + this.options.timeoutMs),
        this.options.timeoutMs,
        what,
      );
    const connection = this.#connection;
    const call =
      connection !== undefined
        ? send(connection)
        : // The deadline starts once the client is made, not before: loading ioredis happens
          // once, and can take a cold process longer than timeoutMs, Redis being there or not.
          // The command follows the eviction check on the connection, so it is answered after.
          this.#client.then(
            (client) => Promise.all([this.#checked, send(client)]).then(([, answer]) => answer),
            (error: unknown) => Promise.reject(redisFailure('connect', error)),
          );
    // close() waits for calls under way: a release cut off by closing would hold a slot for a TTL.
    return this.#track(call, (failed, error) => this.#noteOutcome(failed, error));
  }

  /** What a call's outcome tells: whether Redis answers, and whether it refused a write. */
  #noteOutcome(failed: boolean, error: unknown): void {
    // A refused write is an answer: Redis is there, but takes no lease until it writes again.
    const refused = failed && isWriteRefusal(error);
    if (refused) this.#writesRefused = true;
    this.#failing = failed && !refused;
  }

  /**
   * Reports an eviction policy under which the caps may not hold. Best effort: a user not
   * allowed `CONFIG GET`, or a managed Redis that renamed it, is not checked.
   */
  async #checkConfig(connection: RedisConnection): Promise<void> {
    const reply = await withDeadline(
      connection.call('CONFIG', 'GET', 'maxmemory-policy'),
      this.options.timeoutMs,
      'config get',
    ).catch(() => undefined);
    const problem = evictionProblem(reply);
    if (problem !== undefined) this.#reportError('config', new Error(problem));
  }

  /**
   * A connection the store opened reports its errors here: once per outage (ioredis emits one
   * per reconnect attempt), and again only after it was ready in between. Ready again with no
   * lease held, it tries Redis at once; leases held are renewed at the next beat, as ever. Not
   * while Redis refuses writes: a reconnection says nothing of those (and the client reconnects
   * on each READONLY, so trying at once would loop); the renewal beat tries a write.
   */
  #watchConnection(connection: RedisConnection): void {
    let reported = false;
    connection.on('error', (error) => {
      this.#failing = true;
      if (!reported) this.#reportError('connection', error);
      reported = true;
    });
    connection.on('ready', () => {
      reported = false;
      if (this.#book.size === 0 && !this.#writesRefused) this.#renewSoon();
    });
  }

  /** Background failures go to 'error' listeners, or become process warnings if there are none. */
  #reportError(operation: RedisStoreBackgroundOperation, reported: unknown): void {
    const error = withoutCredentialArgs(reported);
    if (this.hasListeners('error')) this.emit('error', { operation, error });
    else emitFailureWarning('VoiceAdmissionRedisWarning', error);
  }

  #assertOpen(): void {
    if (this.#closed) throw new RedisUnavailableError('the redis store is closed');
  }
}

/** A store whose slots are counted in Redis and shared by every instance using `name`. */
export function redisStore(options: RedisStoreOptions): RedisCapacityStore {
  return new RedisCapacityStore(options);
}

/** Scripts take -1 for "no tenant cap". */
function finiteOrNone(limit: number): number {
  return limit === Number.POSITIVE_INFINITY ? -1 : limit;
}
