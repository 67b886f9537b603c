import { Batcher, HOT_PATH_BATCHING } from '../../db/batcher.js';
import type { Sql } from '../../db/sql.js';
import { claimJtis } from '../../db/tables/used-jtis.js';
import type { ClientRecord } from '../../services/client-cache.js';
import type { ServerCtx } from '../../services/context.js';
import type { PresentedToken } from '../bearer.js';
import { asciiDescription, invalidRequest, OAuthError } from '../errors.js';
import { DpopNonces } from './nonce.js';
import {
  DPOP_ALGS,
  DpopProofError,
  PROOF_MAX_AGE_SECONDS,
  type ProofTarget,
  singleProof,
  type VerifiedProof,
  verifyProof,
} from './proof.js';

export { DPOP_ALGS, JKT, type VerifiedProof } from './proof.js';

/**
 * DPoP (RFC 9449) as the endpoints use it: a proof is verified (src/oauth/dpop/proof.ts), its
 * nonce checked when DPOP_NONCES is on, and its `jti` claimed once across every instance
 * (used_jtis). The token endpoint answers refusals with 400, resource endpoints (userinfo,
 * GraphQL, Bearer-authenticated introspection) with 401 and a `DPoP` challenge (§7.1).
 */

/** Where a proof was presented: the status and the challenge of its refusals differ. */
type Where = 'token' | 'resource';

/** What the endpoint knows of the request the proof came with. */
export interface ProofRequest {
  method: string;
  /** The request path, as under the issuer (`/o/token/`, `/graphql`). */
  path: string;
  /** The raw `DPoP` header value(s). */
  header: string | string[] | undefined;
  /** Sets a response header (the fresh `DPoP-Nonce`). */
  setHeader(name: string, value: string): void;
}

const nonceMakers = new WeakMap<Buffer, DpopNonces>();

type Claim = Parameters<typeof claimJtis>[1][number];

/**
 * The jti claims of concurrent requests in one statement (as the access-token inserts are): each
 * request still waits for its own claim to commit before anything is issued.
 */
const claimers = new WeakMap<Sql, Batcher<Claim, boolean>>();

function claim(sql: Sql, item: Claim): Promise<boolean> {
  let batcher = claimers.get(sql);
  if (!batcher) {
    batcher = new Batcher((items) => claimJtis(sql, items), HOT_PATH_BATCHING);
    claimers.set(sql, batcher);
  }
  return batcher.submit(item);
}

function nonces(ctx: ServerCtx): DpopNonces | null {
  if (!ctx.config.dpop.nonces) return null;
  const secret = ctx.runtime.keys.signing;
  let made = nonceMakers.get(secret);
  if (!made) {
    made = new DpopNonces(secret);
    nonceMakers.set(secret, made);
  }
  return made;
}

const ALGS = DPOP_ALGS.join(' ');

/** The `WWW-Authenticate` challenge of a resource endpoint (RFC 9449 §7.1). */
export function dpopChallenge(error?: string, description?: string): string {
  const parts = [
    ...(error ? [`error="${error}"`] : []),
    ...(description ? [`error_description="${asciiDescription(description)}"`] : []),
    `algs="${ALGS}"`,
  ];
  return `DPoP ${parts.join(', ')}`;
}

function refusal(where: Where, error: string, description: string, nonce?: string): OAuthError {
  const headers: Record<string, string> = nonce ? { 'DPoP-Nonce': nonce } : {};
  if (where === 'token') return new OAuthError(error, description, 400, headers);
  return new OAuthError(error, description, 401, {
    ...headers,
    'WWW-Authenticate': dpopChallenge(error, description),
  });
}

/** RFC 9449 §7.1: a DPoP-bound access token needs the DPoP scheme (and a proof). */
export function boundTokenError(description: string): OAuthError {
  return new OAuthError('invalid_token', description, 401, {
    'WWW-Authenticate': dpopChallenge('invalid_token', description),
  });
}

/** Verifies the one proof a request carries, checks its nonce, claims its jti. */
async function acceptProof(
  ctx: ServerCtx,
  request: ProofRequest,
  raw: string,
  target: ProofTarget,
  where: Where,
): Promise<VerifiedProof> {
  const now = Math.floor(Date.now() / 1000);
  const serverNonces = nonces(ctx);
  const fresh = serverNonces?.current(now);
  // RFC 9449 §8.2: every response may carry the nonce to use next.
  if (fresh) request.setHeader('DPoP-Nonce', fresh);
  let proof: VerifiedProof;
  try {
    proof = await verifyProof(raw, target, now);
  } catch (err) {
    if (err instanceof DpopProofError) throw refusal(where, 'invalid_dpop_proof', err.message, fresh);
    throw err;
  }
  if (serverNonces && !serverNonces.accepts(proof.nonce, now)) {
    throw refusal(
      where,
      'use_dpop_nonce',
      proof.nonce === undefined
        ? 'This server requires a DPoP nonce: use the DPoP-Nonce header of this response.'
        : 'The DPoP nonce is not current: use the DPoP-Nonce header of this response.',
      fresh,
    );
  }
  // Acceptable until PROOF_MAX_AGE_SECONDS after its iat: the row need not outlive that.
  const expires = new Date((proof.iat + PROOF_MAX_AGE_SECONDS + 1) * 1000);
  if (!(await claim(ctx.sql, { purpose: 'dpop', issuer: proof.jkt, jti: proof.jti, expiresAt: expires }))) {
    throw refusal(where, 'invalid_dpop_proof', 'The DPoP proof has already been used (jti).', fresh);
  }
  return proof;
}

function endpointUrl(ctx: ServerCtx, path: string): string {
  return `${ctx.config.issuer}${path}`;
}

function single(request: ProofRequest, where: Where, ctx: ServerCtx): string | undefined {
  try {
    return singleProof(request.header);
  } catch (err) {
    if (err instanceof DpopProofError) {
      const fresh = nonces(ctx)?.current(Math.floor(Date.now() / 1000));
      throw refusal(where, 'invalid_dpop_proof', err.message, fresh);
    }
    throw err;
  }
}

/**
 * RFC 9449 §5: the token request's proof, or null when it carries none (the tokens are then
 * Bearer) — unless the application requires DPoP.
 */
export async function tokenRequestProof(
  ctx: ServerCtx,
  request: ProofRequest,
  client: ClientRecord,
): Promise<VerifiedProof | null> {
  const raw = single(request, 'token', ctx);
  if (raw === undefined) {
    if (client.requireDpop) {
      throw invalidRequest('This application requires DPoP: send a DPoP proof with the token request.');
    }
    return null;
  }
  return acceptProof(
    ctx,
    request,
    raw,
    { method: request.method, url: endpointUrl(ctx, request.path) },
    'token',
  );
}

/**
 * RFC 9449 §7: the sender constraint of an access token found by its value. A bound token needs
 * the DPoP scheme and a proof by its key naming it (`ath`); a Bearer token takes no proof.
 */
export async function checkSenderConstraint(
  ctx: ServerCtx,
  request: ProofRequest,
  presented: PresentedToken,
  jkt: string | null,
): Promise<void> {
  if (jkt === null) {
    if (presented.scheme === 'dpop') {
      throw boundTokenError('This access token is not DPoP-bound: present it with the Bearer scheme.');
    }
    return;
  }
  if (presented.scheme === 'bearer') {
    throw boundTokenError('This access token is DPoP-bound: present it with the DPoP scheme and a proof.');
  }
  const raw = single(request, 'resource', ctx);
  if (raw === undefined) {
    throw refusal(
      'resource',
      'invalid_dpop_proof',
      'A DPoP proof is required with a DPoP-bound access token.',
    );
  }
  const proof = await acceptProof(
    ctx,
    request,
    raw,
    { method: request.method, url: endpointUrl(ctx, request.path), accessToken: presented.token },
    'resource',
  );
  if (proof.jkt !== jkt) {
    throw refusal(
      'resource',
      'invalid_dpop_proof',
      'The DPoP proof is not signed by the key the token is bound to.',
    );
  }
}
