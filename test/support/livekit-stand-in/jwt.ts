import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HS256 JWTs, written independently of livekit-server-sdk so that the stand-in checks the
 * SDK's tokens rather than agreeing with itself. Verification follows the LiveKit server
 * (protocol/auth/verifier.go): HS256 only, issuer = the API key, 60 s leeway on `exp` and `nbf`;
 * a token without `exp` is accepted, as livekit-server 1.13.5 accepts it (the contract suite checks).
 */

export const LEEWAY_SECONDS = 60;

/** The grant claims LiveKit reads (a subset: what the stand-in checks). */
export interface VideoGrant {
  readonly roomCreate?: boolean;
  readonly roomList?: boolean;
  readonly roomAdmin?: boolean;
  readonly roomJoin?: boolean;
  readonly room?: string;
  readonly agent?: boolean;
  readonly canPublish?: boolean;
  readonly canSubscribe?: boolean;
  readonly canPublishData?: boolean;
}

export interface Claims {
  readonly iss?: string;
  readonly sub?: string;
  readonly exp?: number;
  readonly nbf?: number;
  readonly iat?: number;
  readonly video?: VideoGrant;
  readonly sha256?: string;
  readonly kind?: string;
  readonly name?: string;
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

export function signJwt(claims: Claims, secret: string, alg = 'HS256'): string {
  const head = base64url(JSON.stringify({ alg, typ: 'JWT' }));
  const body = base64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  return `${head}.${body}.${base64url(signature)}`;
}

/** Reads the claims without checking anything (the server's ParseAPIToken). */
export function parseUnverified(token: string): { alg: unknown; claims: Claims } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as {
      alg?: unknown;
    };
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Claims;
    if (claims === null || typeof claims !== 'object') return undefined;
    return { alg: header.alg, claims };
  } catch {
    return undefined;
  }
}

export type VerifyResult =
  | { readonly ok: true; readonly claims: Claims }
  | { readonly ok: false; readonly error: string };

/** Verifies like golang-jwt with the server's options; errors read like golang-jwt's. */
export function verifyJwt(token: string, secret: string, nowSeconds: number): VerifyResult {
  const parsed = parseUnverified(token);
  if (parsed === undefined) return { ok: false, error: 'token is malformed' };
  if (parsed.alg !== 'HS256') {
    return {
      ok: false,
      error: `token is unverifiable: signing method ${String(parsed.alg)} is invalid`,
    };
  }
  const [head, body, signature] = token.split('.') as [string, string, string];
  const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, error: 'token signature is invalid: signature is invalid' };
  }
  const { claims } = parsed;
  if (typeof claims.exp === 'number' && nowSeconds > claims.exp + LEEWAY_SECONDS) {
    return { ok: false, error: 'token has invalid claims: token is expired' };
  }
  if (typeof claims.nbf === 'number' && nowSeconds + LEEWAY_SECONDS < claims.nbf) {
    return { ok: false, error: 'token has invalid claims: token is not valid yet' };
  }
  return { ok: true, claims };
}
