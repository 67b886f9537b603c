import { createHmac } from 'node:crypto';
import type { Request, Response } from 'express';
import type { AuthorizationRequest } from '../oauth/authorization-request.js';
import { formEncode, type Params, parseParams } from '../oauth/params.js';
import { carryForward } from '../oauth/pushed-authorization.js';
import { constantTimeEqual } from '../services/secrets.js';
import { csrfToken } from './csrf.js';

const MAX_AGE_MS = 10 * 60 * 1000;

/**
 * The consent form carries the authorization request as one signed hidden field: the original
 * parameters, the session they were shown to and when. Any change to it, another session, or
 * an old form is refused; the request is then validated again from scratch.
 */
export function signConsentRequest(req: Request, request: AuthorizationRequest): string {
  const payload = Buffer.from(
    JSON.stringify({
      p: serialise(carryForward(request.params, request.pushed, req.ctx.runtime.keys)),
      s: req.browserSession!.id,
      t: Date.now(),
    }),
  ).toString('base64url');
  return `${payload}.${mac(req, payload)}`;
}

export function verifyConsentRequest(req: Request, value: string | undefined): Params | null {
  if (!value || value.length > 20_000) return null;
  const [payload, signature] = value.split('.');
  if (!payload || !signature) return null;
  if (!constantTimeEqual(mac(req, payload), signature)) return null;
  let data: { p?: unknown; s?: unknown; t?: unknown };
  try {
    data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (data.s !== req.browserSession?.id || typeof data.t !== 'number' || Date.now() - data.t > MAX_AGE_MS)
    return null;
  if (typeof data.p !== 'string') return null;
  return parseParams(data.p);
}

function mac(req: Request, payload: string): string {
  return createHmac('sha256', req.ctx.runtime.keys.signing).update(`consent\0${payload}`).digest('base64url');
}

export const serialise = formEncode;

/**
 * Shows the consent page: the application, who registered it (for a client ID metadata document:
 * the host that publishes it, with its self-asserted name and logo marked unverified), each scope
 * with its description, and the resources (RFC 8707) the access is for.
 */
export function renderConsent(req: Request, res: Response, request: AuthorizationRequest): void {
  const { client } = request;
  const scopes = request.scopes.map((name) => ({ name, description: req.ctx.config.scopes[name] ?? name }));
  // A metadata-document client is its host: the user trusts a domain, not the name it gives itself.
  const documentHost = client.metadataDocument ? hostOf(client.clientId) : null;
  // Only self-registered clients carry a logo (a document's or RFC 7591's); it is marked unverified.
  const logoUri = client.logoUri;
  res.set(
    'Content-Security-Policy',
    consentCsp(res.get('Content-Security-Policy') ?? '', request.target.redirectUri, logoUri),
  );
  res.render('consent', {
    title: `Authorize ${documentHost ?? client.name}`,
    client: {
      name: client.name,
      owner: client.ownerUsername,
      initial: (documentHost ?? client.name).trim().charAt(0).toUpperCase() || '?',
      documentHost,
      documentUrl: documentHost ? client.clientId : null,
      nameAsserted: documentHost !== null && client.name !== documentHost,
      logoUri,
    },
    scopes,
    resources: request.resources.map((r) => ({ name: r.name, identifier: r.identifier })),
    redirectHost: hostOf(request.target.redirectUri),
    consentRequest: signConsentRequest(req, request),
    csrfToken: csrfToken(req, res),
  });
}

/**
 * The consent form's POST answers with a redirect to the client; browsers apply CSP
 * form-action to that redirect, so the client's redirect target must be allowed.
 */
function consentCsp(csp: string, redirectUri: string, logoUri: string | null): string {
  let source: string;
  try {
    const url = new URL(redirectUri);
    source = url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
  } catch {
    return csp;
  }
  let result = csp.replace("form-action 'self'", `form-action 'self' ${source}`);
  // Only the origin: a path could carry ';' and end the directive. logo_uri is https (validated).
  if (logoUri) result = result.replace("img-src 'self'", `img-src 'self' ${new URL(logoUri).origin}`);
  return result;
}

function hostOf(uri: string): string {
  try {
    const url = new URL(uri);
    return url.host || url.protocol;
  } catch {
    return uri;
  }
}
