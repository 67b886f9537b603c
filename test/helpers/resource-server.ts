import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { SigningAlg } from '../../src/entities/Application.js';
import { type RequireTokenOptions, requireToken } from '../../src/resource-server/index.js';
import { signJws } from '../../src/services/jws.js';
import { createResource } from '../../src/services/resources.js';
import { makeClient, postForm, type TestClient } from './oauth.js';
import { startTestServer, type TestServer } from './server.js';

/**
 * A real Latchkey set up for resource-server tests, and real resource servers (Express apps on
 * the library) in front of it. Scopes: notes:read, notes:write (+ the defaults the server
 * needs); resources: a JWT one (RFC 9068 tokens), an opaque one, and another JWT one whose
 * tokens must be refused by the first.
 */

export const SCOPES = {
  'notes:read': 'Read your notes',
  'notes:write': 'Change your notes',
  read: 'Read your data',
  openid: 'Confirm your identity',
  introspection: 'Check tokens',
};

export interface ResourceFixture {
  latchkey: TestServer;
  issuer: string;
  /** JWT access tokens (RFC 9068). */
  jwtResource: string;
  /** Opaque tokens (introspection). */
  opaqueResource: string;
  /** Another JWT resource: its tokens are not for the others. */
  otherResource: string;
  /** client_credentials, notes:read notes:write. */
  machine: TestClient;
  /** The resource servers' introspection credentials (scope introspection). */
  introspector: TestClient;
}

export async function startResourceFixture(
  opts: { env?: Record<string, string> } = {},
): Promise<ResourceFixture> {
  const latchkey = await startTestServer({ env: { SCOPES: JSON.stringify(SCOPES), ...opts.env } });
  const cli = latchkey.cli();
  const fixture = {
    latchkey,
    issuer: latchkey.runtime.config.issuer,
    jwtResource: 'https://notes.example.com/api',
    opaqueResource: 'https://opaque.example.com/api',
    otherResource: 'https://other.example.com/api',
  };
  const scopes = ['notes:read', 'notes:write'];
  await createResource(cli, {
    identifier: fixture.jwtResource,
    name: 'Notes',
    scopes,
    accessTokenFormat: 'jwt',
  });
  await createResource(cli, { identifier: fixture.opaqueResource, name: 'Opaque notes', scopes });
  await createResource(cli, {
    identifier: fixture.otherResource,
    name: 'Other',
    scopes,
    accessTokenFormat: 'jwt',
  });
  const machine = await makeClient(latchkey, {
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scopes,
  });
  const introspector = await makeClient(latchkey, {
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scopes: ['introspection'],
  });
  return { ...fixture, machine, introspector };
}

/** A client_credentials access token (RFC 6749 §4.4) for `resource` (RFC 8707) with `scope`. */
export async function tokenFor(
  f: ResourceFixture,
  resource: string,
  scope = 'notes:read notes:write',
): Promise<string> {
  const res = await postForm(
    f.latchkey,
    '/o/token/',
    { grant_type: 'client_credentials', resource, scope },
    f.machine,
  );
  if (res.status !== 200) throw new Error(`token: ${res.status} ${res.text}`);
  return String(res.json.access_token);
}

/** A JWS signed with Latchkey's own active key (for tokens Latchkey would not mint: expired, wrong iss, cnf). */
export function signWithLatchkeyKey(
  f: ResourceFixture,
  claims: Record<string, unknown>,
  opts: { typ?: string; alg?: SigningAlg } = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  return signJws(f.latchkey.runtime.keyStore.signer(opts.alg ?? 'RS256'), opts.typ ?? 'at+jwt', {
    iss: f.issuer,
    sub: 'someone',
    aud: f.jwtResource,
    client_id: f.machine.clientId,
    scope: 'notes:read notes:write',
    jti: `forged-${Math.random()}`,
    iat: now,
    exp: now + 60,
    ...claims,
  });
}

/** Counts what the library fetches from the authorization server, by path. */
export function countingFetch() {
  const counts = new Map<string, number>();
  return {
    fetch: (input: string | URL, init?: RequestInit) => {
      const path = new URL(input).pathname;
      counts.set(path, (counts.get(path) ?? 0) + 1);
      return fetch(input, init);
    },
    count: (path: string) => counts.get(path) ?? 0,
  };
}

export interface Listening {
  url: string;
  close(): Promise<void>;
}

/** Listens on a free port; closing drops open connections. */
export async function listen(app: express.Express): Promise<Listening> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * A protected resource server: GET /api answers the verified token (req.auth) as JSON,
 * GET /open is unprotected. `options` go to requireToken.
 */
export async function startApi(
  f: ResourceFixture,
  options: Partial<RequireTokenOptions> = {},
): Promise<Listening & { options: RequireTokenOptions }> {
  const full: RequireTokenOptions = { issuer: f.issuer, resource: f.jwtResource, ...options };
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.get('/open', (_req, res) => void res.json({ open: true }));
  app.all('/api', requireToken(full), (req, res) => {
    const auth = (req as express.Request & { auth?: unknown }).auth;
    res.json(auth);
  });
  return { ...(await listen(app)), options: full };
}
