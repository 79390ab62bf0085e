import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../../iface/errors.js';
import { isTenantId, TENANT_ID_RULE } from '../../internal/tenant-id.js';
import { stringAt } from './json-text.js';

/** The tenant value of an operator token: it may act for any tenant. */
export const ANY_TENANT = '*';
/** The tenant a caller allowed any tenant acts for when the request names none. */
const DEFAULT_TENANT = 'default';
/** Shorter tokens are refused: they could be guessed. */
export const MIN_TOKEN_LENGTH = 16;

/** Who a request acts as: a tenant, or anyone allowed every tenant (operator, or an open gateway). */
export interface Caller {
  /** The caller's tenant, or `ANY_TENANT`. */
  readonly scope: string;
}

export const OPEN_CALLER: Caller = Object.freeze({ scope: ANY_TENANT });

/** A request the gateway refuses: answered with `status` and `{ error: { code, message } }`. */
export class HttpRefusal extends Error {
  override readonly name = 'HttpRefusal';
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

interface Entry {
  readonly digest: Buffer;
  readonly scope: string;
}

/**
 * The bearer tokens the gateway accepts (token -> tenant id, `"*"` for an operator). Tokens
 * are kept as SHA-256 digests and a presented token is compared, digest to digest, with
 * `timingSafeEqual` against every entry, so the time taken says nothing about how close a
 * guess was. No token ever appears in an error, a log line or a response.
 */
export class TokenTable {
  readonly #entries: readonly Entry[];

  private constructor(entries: readonly Entry[]) {
    this.#entries = entries;
  }

  /** Parses `AUTH_TOKENS`' JSON; `source` names where it came from in errors. */
  static parse(json: string, source: string): TokenTable {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      // The parser's message may quote part of the text, i.e. a token: say only where.
      throw new ConfigError(source, 'is not valid JSON (expected {"<token>": "<tenant id>"})');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError(source, 'must be a JSON object {"<token>": "<tenant id>"}');
    }
    // Read from the text, not from the parsed object: JSON.parse keeps the last of a token
    // given twice, and a table that silently drops an entry is not the table that was written.
    const first = new Map<string, number>();
    const entries = members(json).map(([token, tenant], index) => {
      const where = `${source} entry ${index + 1}`;
      if (token.length < MIN_TOKEN_LENGTH) {
        throw new ConfigError(where, `token must be at least ${MIN_TOKEN_LENGTH} characters`);
      }
      // A header carries one run of visible ASCII: any other token could never be presented.
      if (!/^[\x21-\x7e]+$/.test(token)) {
        throw new ConfigError(where, 'token must be visible ASCII characters only');
      }
      const earlier = first.get(token);
      if (earlier !== undefined) {
        throw new ConfigError(
          where,
          `token repeats entry ${earlier + 1} (each token may be listed once)`,
        );
      }
      first.set(token, index);
      if (typeof tenant !== 'string' || !(tenant === ANY_TENANT || isTenantId(tenant))) {
        throw new ConfigError(where, `tenant must be "*" or a tenant id (${TENANT_ID_RULE})`);
      }
      return { digest: digest(token), scope: tenant };
    });
    if (entries.length === 0) throw new ConfigError(source, 'names no token');
    return new TokenTable(entries);
  }

  /** The tenants the tokens name (operators excluded). */
  get tenants(): readonly string[] {
    return [...new Set(this.#entries.map((e) => e.scope).filter((s) => s !== ANY_TENANT))];
  }

  /** Who an `Authorization` header authenticates; throws a 401 refusal if nobody. */
  authenticate(authorization: string | undefined): Caller {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    if (match === null) {
      throw new HttpRefusal(401, 'unauthorized', 'a bearer token is required');
    }
    const presented = digest(match[1]!);
    let scope: string | undefined;
    // Every entry is compared, whatever matched, so the time does not depend on which did.
    for (const entry of this.#entries) {
      if (timingSafeEqual(presented, entry.digest)) scope = entry.scope;
    }
    if (scope === undefined) throw new HttpRefusal(401, 'unauthorized', 'unknown token');
    return { scope };
  }
}

/**
 * The request's `Authorization` header. A request carrying several is refused (401): Node
 * keeps the first, and a proxy in front may have checked another.
 */
export function authorizationOf(request: IncomingMessage): string | undefined {
  const { rawHeaders } = request;
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'authorization') count++;
  }
  if (count > 1) throw new HttpRefusal(401, 'unauthorized', 'more than one Authorization header');
  return request.headers.authorization;
}

/** The tenant a request acts for: the caller's own, or the one it names if it may. */
export function tenantFor(caller: Caller, named: string | undefined): string {
  if (caller.scope === ANY_TENANT) return named ?? DEFAULT_TENANT;
  if (named !== undefined && named !== caller.scope) {
    throw new HttpRefusal(403, 'forbidden', 'this token may only act for its own tenant');
  }
  return caller.scope;
}

/**
 * Refuses a priority above the default from a tenant's token: the queue serves higher
 * priorities before every tenant's waiters, so it would let one tenant go before all others.
 * Lowering its own requests harms nobody.
 */
export function checkPriority(caller: Caller, priority: number | undefined): void {
  if (caller.scope !== ANY_TENANT && priority !== undefined && priority > 0) {
    throw new HttpRefusal(
      403,
      'forbidden',
      'a priority above 0 goes before other tenants: only an operator token may set it',
    );
  }
}

/**
 * Refuses latency samples from a tenant's token: they steer the one limit every tenant
 * shares, so one tenant's reports (made up or not) would shrink everyone's capacity.
 */
export function checkMaySteer(caller: Caller): void {
  if (caller.scope !== ANY_TENANT) {
    throw new HttpRefusal(
      403,
      'forbidden',
      'latency samples steer the limit all tenants share: report them with an operator token',
    );
  }
}

/** Whether `caller` may see what belongs to `tenantId`. */
export function mayAccess(caller: Caller, tenantId: string): boolean {
  return caller.scope === ANY_TENANT || caller.scope === tenantId;
}

/**
 * The members of the text of a JSON object, in order and with any key given twice kept twice.
 * `text` must be known to be valid JSON for an object (JSON.parse took it).
 */
function members(text: string): [string, unknown][] {
  const found: [string, unknown][] = [];
  let at = text.indexOf('{') + 1;
  const skipSpace = () => {
    while (' \t\n\r'.includes(text[at]!)) at++;
  };
  const string = (): string => {
    const literal = stringAt(text, at);
    at += literal.length;
    return literal;
  };
  for (;;) {
    skipSpace();
    if (text[at] === '}') return found;
    const key = JSON.parse(string()) as string;
    skipSpace();
    at++; // the colon
    skipSpace();
    const start = at;
    // The value ends at the comma or brace that closes this member, outside any string.
    for (let depth = 0; ; ) {
      const char = text[at]!;
      if (char === '"') {
        string();
        continue;
      }
      if (char === '{' || char === '[') depth++;
      else if (char === '}' || char === ']') {
        if (depth === 0) break;
        depth--;
      } else if (char === ',' && depth === 0) break;
      at++;
    }
    found.push([key, JSON.parse(text.slice(start, at))]);
    if (text[at] === ',') at++;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
