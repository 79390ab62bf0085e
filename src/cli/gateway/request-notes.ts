import type { FastifyRequest } from 'fastify';
import { type Caller, OPEN_CALLER } from './auth.js';

/** What the gateway learns about a request while answering it (for routes and the access log). */
export interface RequestNote {
  /** Who the request acts as (set by authentication). */
  caller: Caller;
  /** The tenant it acted for, once known. */
  tenant: string | undefined;
  /** The error code it was answered with, if refused. */
  code: string | undefined;
}

const notes = new WeakMap<FastifyRequest, RequestNote>();

export function noteOf(request: FastifyRequest): RequestNote {
  let note = notes.get(request);
  if (note === undefined) {
    note = { caller: OPEN_CALLER, tenant: undefined, code: undefined };
    notes.set(request, note);
  }
  return note;
}
