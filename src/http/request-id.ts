import { randomBytes } from 'node:crypto';

const REQUEST_ID = /^[\w.:-]{1,64}$/;
/** Unique per process start; the counter makes each id unique within the process. */
const PREFIX = randomBytes(6).toString('base64url');
let counter = 0;

/**
 * The request's id, for its log lines and the `X-Request-Id` answer header: a sane incoming one
 * (from a proxy that already assigned it) is kept; otherwise a new one. Ids need to be unique,
 * not unpredictable (they are no credential), so a new one is a per-process random prefix and a
 * counter rather than a random UUID per request.
 */
export function requestIdOf(incoming: string | string[] | undefined): string {
  if (typeof incoming === 'string' && REQUEST_ID.test(incoming)) return incoming;
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${PREFIX}-${counter.toString(36)}`;
}
