import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApplicationInput, createApplication } from '../../src/services/applications.js';
import { createUser } from '../../src/services/users.js';
import { basic } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Bad input on every protocol endpoint (RFC 6749 §3.1, §3.2, §2.3.1, §5.2; RFC 7009 §2.2.1;
 * RFC 7662 §2.3; RFC 6749 §4.1.2.1 for the authorization endpoint). Every answer is a 4xx with
 * the RFC error JSON (or, on /o/authorize/, an HTML page), never a 5xx or a stack trace, and a
 * rejected request writes nothing.
 */

let server: TestServer;

interface Client {
  id: string;
  secret: string;
}
/** Confidential, client_credentials. */
let conf: Client;
/** Confidential, client_credentials, registered for client_secret_post. */
let postConf: Client;
/** Confidential, password + refresh_token. */
let pwd: Client;
/** Confidential, authorization_code (+ refresh_token). */
let web: Client;
/** Public, authorization_code with PKCE. */
let pub: Client;
/** Tokens that exist while the tests run: a rejected request must leave them untouched. */
let accessToken: string;
let refreshToken: string;

const ALICE = { username: 'alice', password: 'alice-password' };
const WEB_REDIRECT = 'https://web.example/cb';
const PUB_REDIRECT = 'https://public.example/cb';
const FORM = 'application/x-www-form-urlencoded';

beforeAll(async () => {
  // Failed client authentications and wrong passwords are counted by design; these tests make
  // many of them on purpose, so the limits are raised out of the way.
  server = await startTestServer({
    env: {
      CLIENT_AUTH_MAX_FAILURES: '1000000',
      LOGIN_MAX_FAILURES: '100000',
      LOGIN_MAX_FAILURES_PER_IP: '100000',
    },
  });
  const alice = await createUser(server.cli(), { ...ALICE, email: 'alice@example.com' });
  const make = async (input: ApplicationInput): Promise<Client> => {
    const { application, clientSecret } = await createApplication(server.cli(), alice, input);
    return { id: application.clientId, secret: clientSecret ?? '' };
  };
  conf = await make({ name: 'service', clientType: 'confidential', grantTypes: ['client_credentials'] });
  postConf = await make({
    name: 'service (post)',
    clientType: 'confidential',
    grantTypes: ['client_credentials'],
    tokenEndpointAuthMethod: 'client_secret_post',
  });
  pwd = await make({ name: 'legacy', clientType: 'confidential', grantTypes: ['password', 'refresh_token'] });
  web = await make({
    name: 'web',
    clientType: 'confidential',
    grantTypes: ['authorization_code'],
    redirectUris: [WEB_REDIRECT],
  });
  pub = await make({
    name: 'spa',
    clientType: 'public',
    grantTypes: ['authorization_code'],
    redirectUris: [PUB_REDIRECT],
  });

  const cc = await send('/o/token/', {
    headers: { 'Content-Type': FORM, Authorization: basic(conf.id, conf.secret) },
    body: 'grant_type=client_credentials&scope=read',
  });
  expect(cc.status).toBe(200);
  accessToken = JSON.parse(cc.text).access_token;
  const pw = await send('/o/token/', {
    headers: { 'Content-Type': FORM, Authorization: basic(pwd.id, pwd.secret) },
    body: new URLSearchParams({ grant_type: 'password', ...ALICE, scope: 'read' }).toString(),
  });
  expect(pw.status).toBe(200);
  refreshToken = JSON.parse(pw.text).refresh_token;
  expect(refreshToken).toBeTruthy();
});

afterAll(async () => {
  await server?.stop();
});

// ---------------------------------------------------------------------------------------------
// Helpers

interface Sent {
  status: number;
  headers: Headers;
  text: string;
}

interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
}

async function send(path: string, init: RequestInit = {}): Promise<Sent> {
  const res = await fetch(new URL(path, server.url), {
    method: init.method ?? 'POST',
    headers: init.headers,
    body: init.body,
    redirect: 'manual',
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const bytes = (...parts: Array<string | number[]>): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))));

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** Every table a protocol request could write to, except rate_limit_counters (failures are counted). */
const TABLES = [
  'access_tokens',
  'refresh_tokens',
  'authorization_codes',
  'grants',
  'applications',
  'users',
  'sessions',
  'audit_events',
];

/** Row count and a digest of every row, per table: catches inserts and updates (revoked_at, consumed_at). */
async function snapshot(): Promise<Record<string, string>> {
  const rows = await server.runtime.db.sql.query<{ t: string; n: number; h: string }>(
    TABLES.map(
      (t) =>
        `select '${t}' as t, count(*)::int as n, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from ${t} x`,
    ).join(' union all '),
  );
  return Object.fromEntries(rows.map((r) => [r.t, `${r.n} rows, digest ${r.h}`]));
}

/** Runs a request that must be rejected and checks that no table changed. */
async function rejected(path: string, init: RequestInit = {}): Promise<Sent> {
  const before = await snapshot();
  const res = await send(path, init);
  expect(await snapshot(), 'a rejected request writes nothing').toEqual(before);
  return res;
}

/** No stack frame, no source path, no internal error name in a body. */
function expectNoLeak(text: string): void {
  expect(text).not.toMatch(/^\s*at\s+\S+/m);
  expect(text).not.toMatch(/\bat [\w.<>]+ \(/);
  expect(text).not.toMatch(/\.(ts|js|mjs|cjs):\d+/);
  expect(text).not.toMatch(/node_modules|\/src\/|\/work\//);
  expect(text).not.toMatch(/(TypeError|RangeError|URIError|SyntaxError|ReferenceError)\b/);
}

/** The RFC 6749 §5.2 error response. */
function expectOAuthError(
  res: Sent,
  status: number,
  error: string,
): { error: string; error_description: string } {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json\b/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expectNoLeak(res.text);
  const body = JSON.parse(res.text) as { error: string; error_description: string };
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
  expect(body.error).toBe(error);
  expect(typeof body.error_description).toBe('string');
  expect(body.error_description.length).toBeGreaterThan(0);
  // RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E only (no quotes, backslashes, non-ASCII).
  expect(body.error_description).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);
  return body;
}

/** An HTML error page that does not send the browser anywhere (RFC 6749 §4.1.2.1). */
function expectErrorPage(res: Sent, status = 400): void {
  expect(res.status, res.text.slice(0, 300)).toBe(status);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('content-type')).toMatch(/^text\/html\b/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.text).toMatch(/<html|<!doctype html/i);
  expect(res.text).not.toMatch(/http-equiv=["']?refresh/i);
  expectNoLeak(res.text);
  for (const [name] of res.headers) expect(name.startsWith('access-control-')).toBe(false);
}

// ---------------------------------------------------------------------------------------------
// The three form-encoded JSON endpoints

interface Endpoint {
  name: string;
  path: string;
  /** The section that defines this endpoint's error response. */
  rfc: string;
  /** The endpoint's main parameter and a valid value for it. */
  param: string;
  value(): string;
}

const ENDPOINTS: Endpoint[] = [
  {
    name: 'token',
    path: '/o/token/',
    rfc: 'RFC 6749 §5.2',
    param: 'grant_type',
    value: () => 'client_credentials',
  },
  {
    name: 'revocation',
    path: '/o/revoke_token/',
    rfc: 'RFC 7009 §2.2.1',
    param: 'token',
    value: () => accessToken,
  },
  {
    name: 'introspection',
    path: '/o/introspect/',
    rfc: 'RFC 7662 §2.3',
    param: 'token',
    value: () => accessToken,
  },
];

interface Case {
  /** The RFC section the case checks. */
  ref: string;
  title: string;
  status: number;
  error: string;
  /** The request, given the endpoint's valid `name=value` pair. */
  request(e: Endpoint, valid: string): RequestInit;
  /** Expect `WWW-Authenticate: Basic` (invalid_client after HTTP Basic). */
  basicChallenge?: boolean;
}

const withAuth = (headers: Record<string, string> = {}) => ({
  'Content-Type': FORM,
  Authorization: basic(conf.id, conf.secret),
  ...headers,
});

const BODY_CASES: Case[] = [
  {
    ref: 'RFC 6749 §3.2',
    title: 'a JSON body (Content-Type: application/json)',
    status: 400,
    error: 'invalid_request',
    request: (e) => ({
      headers: withAuth({ 'Content-Type': 'application/json' }),
      body: JSON.stringify({ [e.param]: e.value() }),
    }),
  },
  {
    ref: 'RFC 6749 §3.2',
    title: 'a JSON document sent as application/x-www-form-urlencoded',
    status: 400,
    error: 'invalid_request',
    request: (e) => ({ headers: withAuth(), body: JSON.stringify({ [e.param]: e.value() }) }),
  },
  {
    ref: 'RFC 6749 §3.2',
    title: 'a valid form body with Content-Type: text/plain',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth({ 'Content-Type': 'text/plain' }), body: valid }),
  },
  {
    ref: 'RFC 6749 §3.2',
    title: 'a multipart/form-data body',
    status: 400,
    error: 'invalid_request',
    request: (e) => ({
      headers: withAuth({ 'Content-Type': 'multipart/form-data; boundary=XyZ' }),
      body: `--XyZ\r\nContent-Disposition: form-data; name="${e.param}"\r\n\r\n${e.value()}\r\n--XyZ--\r\n`,
    }),
  },
  {
    ref: 'RFC 6749 §3.2',
    title: 'a form body without any Content-Type',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => {
      const { 'Content-Type': _, ...headers } = withAuth();
      return { headers, body: bytes(valid) };
    },
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'an empty body (the required parameter is missing)',
    status: 400,
    error: 'invalid_request',
    request: () => ({ headers: withAuth(), body: '' }),
  },
  {
    ref: 'RFC 6749 §3.1',
    title: 'a parameter sent twice with the same value',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: `${valid}&${valid}` }),
  },
  {
    ref: 'RFC 6749 §3.1',
    title: 'a parameter sent twice with different values',
    status: 400,
    error: 'invalid_request',
    request: (e, valid) => ({ headers: withAuth(), body: `${valid}&${e.param}=other` }),
  },
  {
    ref: 'RFC 6749 §3.1',
    title: 'a parameter sent twice, once with a percent-encoded name',
    status: 400,
    error: 'invalid_request',
    request: (e, valid) => ({
      headers: withAuth(),
      body: `${valid}&%${e.param.charCodeAt(0).toString(16)}${e.param.slice(1)}=${encodeURIComponent(e.value())}`,
    }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'a 100 KB parameter value (over the body size limit) → 413',
    status: 413,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: `${valid}&scope=${'a'.repeat(100 * 1024)}` }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'more than 100 parameters',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({
      headers: withAuth(),
      body: [valid, ...Array.from({ length: 120 }, (_, i) => `p${i}=x`)].join('&'),
    }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'invalid percent-encoding %zz in a value',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: `${valid}&scope=read%zz` }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'invalid percent-encoding %zz in a parameter name',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: `${valid}&sc%zzope=read` }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'truncated percent-encoding %E0%A4%A',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: `${valid}&scope=%E0%A4%A` }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'a trailing lone % at the end of the body',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: `${valid}&scope=read%` }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'percent-encoded bytes that are not UTF-8 (%FF, overlong %C0%AF)',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: `${valid}&scope=%FF%C0%AF` }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'raw non-UTF-8 bytes (0xFF 0xFE) in the body',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: bytes(`${valid}&scope=`, [0xff, 0xfe]) }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'a raw UTF-8-encoded surrogate (0xED 0xA0 0x80) in the body',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: bytes(`${valid}&scope=`, [0xed, 0xa0, 0x80]) }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'a percent-encoded NUL (%00) in a value',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: `${valid}%00` }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'a percent-encoded NUL (%00) in a parameter name',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: `${valid}&sco%00pe=read` }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'a raw NUL byte in the body',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: bytes(valid, [0x00]) }),
  },
  {
    ref: 'RFC 9110 §15.5.16',
    title: 'a compressed body (Content-Encoding: gzip) is not accepted',
    status: 415,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth({ 'Content-Encoding': 'gzip' }), body: valid }),
  },
  {
    ref: 'RFC 9110 §15.5.16',
    title: 'an unknown Content-Encoding',
    status: 415,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth({ 'Content-Encoding': 'x-unknown' }), body: valid }),
  },
];

const AUTH_CASES: Case[] = [
  {
    ref: 'RFC 6749 §2.3.1',
    title: 'HTTP Basic credentials that are not base64',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth({ Authorization: 'Basic !!not*base64!!' }), body: valid }),
  },
  {
    ref: 'RFC 6749 §2.3.1',
    title: 'HTTP Basic credentials in the base64url alphabet',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth({ Authorization: 'Basic ab-_cd-_' }), body: valid }),
  },
  {
    ref: 'RFC 6749 §2.3.1',
    title: 'HTTP Basic credentials without a colon',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth({ Authorization: `Basic ${b64(conf.id)}` }), body: valid }),
  },
  {
    ref: 'RFC 6749 §2.3.1',
    title: 'HTTP Basic credentials with an empty client id',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({
      headers: withAuth({ Authorization: `Basic ${b64(`:${conf.secret}`)}` }),
      body: valid,
    }),
  },
  {
    ref: 'RFC 6749 §2.3.1',
    title: 'HTTP Basic client id with invalid percent-encoding (%zz)',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({
      headers: withAuth({ Authorization: `Basic ${b64(`%zz${conf.id}:${conf.secret}`)}` }),
      body: valid,
    }),
  },
  {
    ref: 'RFC 6749 §2.3.1',
    title: 'HTTP Basic secret with truncated percent-encoding (%E0%A4%A)',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({
      headers: withAuth({ Authorization: `Basic ${b64(`${conf.id}:${conf.secret}%E0%A4%A`)}` }),
      body: valid,
    }),
  },
  {
    ref: 'RFC 6749 §2.3.1',
    title: 'HTTP Basic client id with a percent-encoded NUL',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({
      headers: withAuth({ Authorization: `Basic ${b64(`${conf.id}%00:${conf.secret}`)}` }),
      body: valid,
    }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'HTTP Basic with an unknown client → 401 invalid_client + WWW-Authenticate: Basic',
    status: 401,
    error: 'invalid_client',
    basicChallenge: true,
    request: (_e, valid) => ({
      headers: withAuth({ Authorization: basic('no-such-client', 'whatever') }),
      body: valid,
    }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'HTTP Basic with a wrong secret → 401 invalid_client + WWW-Authenticate: Basic',
    status: 401,
    error: 'invalid_client',
    basicChallenge: true,
    request: (_e, valid) => ({
      headers: withAuth({ Authorization: basic(conf.id, `${conf.secret}x`) }),
      body: valid,
    }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: "HTTP Basic with another client's secret → 401 invalid_client",
    status: 401,
    error: 'invalid_client',
    basicChallenge: true,
    request: (_e, valid) => ({
      headers: withAuth({ Authorization: basic(conf.id, pwd.secret) }),
      body: valid,
    }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'client_secret_post with an unknown client → 401 invalid_client',
    status: 401,
    error: 'invalid_client',
    request: (_e, valid) => ({
      headers: { 'Content-Type': FORM },
      body: `${valid}&client_id=no-such-client&client_secret=whatever`,
    }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'client_secret_post with a wrong secret → 401 invalid_client',
    status: 401,
    error: 'invalid_client',
    request: (_e, valid) => ({
      headers: { 'Content-Type': FORM },
      body: `${valid}&client_id=${postConf.id}&client_secret=wrong`,
    }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'a confidential client sending only its client_id → 401 invalid_client',
    status: 401,
    error: 'invalid_client',
    request: (_e, valid) => ({ headers: { 'Content-Type': FORM }, body: `${valid}&client_id=${conf.id}` }),
  },
  {
    ref: 'RFC 6749 §5.2',
    title: 'no client authentication at all → 401 invalid_client',
    status: 401,
    error: 'invalid_client',
    request: (_e, valid) => ({ headers: { 'Content-Type': FORM }, body: valid }),
  },
  {
    ref: 'RFC 6749 §2.3',
    title: 'client_secret both in the Basic header and in the body → invalid_request',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({
      headers: withAuth(),
      body: `${valid}&client_id=${conf.id}&client_secret=${encodeURIComponent(conf.secret)}`,
    }),
  },
  {
    ref: 'RFC 6749 §2.3',
    title: 'a body client_id that differs from the Basic client id → invalid_request',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({ headers: withAuth(), body: `${valid}&client_id=${pwd.id}` }),
  },
  {
    ref: 'RFC 6749 §3.1',
    title: 'client_id sent twice → invalid_request',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => ({
      headers: { 'Content-Type': FORM },
      body: `${valid}&client_id=${conf.id}&client_id=${conf.id}&client_secret=${encodeURIComponent(conf.secret)}`,
    }),
  },
  {
    ref: 'RFC 6749 §3.1',
    title: 'client_secret sent twice → invalid_request',
    status: 400,
    error: 'invalid_request',
    request: (_e, valid) => {
      const s = encodeURIComponent(conf.secret);
      return {
        headers: { 'Content-Type': FORM },
        body: `${valid}&client_id=${conf.id}&client_secret=${s}&client_secret=${s}`,
      };
    },
  },
  {
    ref: 'RFC 6749 §2.1',
    title: 'a public client presenting a secret in the body → 401 invalid_client',
    status: 401,
    error: 'invalid_client',
    request: (_e, valid) => ({
      headers: { 'Content-Type': FORM },
      body: `${valid}&client_id=${pub.id}&client_secret=made-up-secret`,
    }),
  },
  {
    ref: 'RFC 6749 §2.1',
    title:
      'a public client presenting a secret with HTTP Basic → 401 invalid_client + WWW-Authenticate: Basic',
    status: 401,
    error: 'invalid_client',
    basicChallenge: true,
    request: (_e, valid) => ({
      headers: withAuth({ Authorization: basic(pub.id, 'made-up-secret') }),
      body: valid,
    }),
  },
];

const METHODS = ['GET', 'PUT', 'DELETE', 'PATCH'];

for (const e of ENDPOINTS) {
  describe(`${e.name} endpoint ${e.path} (${e.rfc})`, () => {
    const valid = () => `${e.param}=${encodeURIComponent(e.value())}`;

    it(`${e.rfc}: control — the well-formed request these cases spoil is accepted`, async () => {
      // The revocation control uses an unknown token so that the shared access token stays active.
      const body = e.name === 'revocation' ? 'token=unknown-token' : valid();
      const res = await send(e.path, { headers: withAuth(), body });
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
    });

    for (const c of [...BODY_CASES, ...AUTH_CASES]) {
      it(`${c.ref}: ${c.title} → ${c.status} ${c.error}, nothing written (${e.name})`, async () => {
        const res = await rejected(e.path, c.request(e, valid()));
        expectOAuthError(res, c.status, c.error);
        if (c.basicChallenge) expect(res.headers.get('www-authenticate')).toMatch(/^Basic\b/i);
      });
    }

    for (const method of METHODS) {
      it(`RFC 6749 §3.2: ${method} instead of POST → 405 invalid_request with Allow: POST, nothing written (${e.name})`, async () => {
        const res = await rejected(`${e.path}?${valid()}`, {
          method,
          headers: withAuth(),
          body: method === 'GET' ? undefined : valid(),
        });
        expectOAuthError(res, 405, 'invalid_request');
        expect(res.headers.get('allow')).toMatch(/\bPOST\b/);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Endpoint-specific rejections after the body parsed and (usually) the client authenticated

describe('token endpoint: grant errors (RFC 6749 §5.2)', () => {
  const token = (auth: Client, form: Record<string, string>) =>
    rejected('/o/token/', {
      headers: { 'Content-Type': FORM, Authorization: basic(auth.id, auth.secret) },
      body: new URLSearchParams(form).toString(),
    });

  it('RFC 6749 §4.4.2: no grant_type → 400 invalid_request, nothing written', async () => {
    expectOAuthError(await token(conf, { scope: 'read' }), 400, 'invalid_request');
  });

  it('RFC 6749 §5.2: a non-ASCII grant_type is not echoed outside the allowed error_description characters', async () => {
    expectOAuthError(await token(conf, { grant_type: 'été"\\' }), 400, 'unsupported_grant_type');
  });

  it('RFC 6749 §2.3.1: an Authorization header of just "Basic" is a malformed Basic attempt → 400 invalid_request', async () => {
    const res = await rejected('/o/token/', {
      headers: { 'Content-Type': FORM, Authorization: 'Basic' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: conf.id,
        client_secret: conf.secret,
      }).toString(),
    });
    expectOAuthError(res, 400, 'invalid_request');
  });

  it('RFC 6749 §5.2: an unknown grant_type → 400 unsupported_grant_type, nothing written', async () => {
    expectOAuthError(await token(conf, { grant_type: 'urn:example:unknown' }), 400, 'unsupported_grant_type');
  });

  it('RFC 6749 §5.2: a grant type the client is not registered for → 400 unauthorized_client, nothing written', async () => {
    expectOAuthError(await token(conf, { grant_type: 'password', ...ALICE }), 400, 'unauthorized_client');
  });

  it('RFC 6749 §5.2: a public client asking for client_credentials → 400 unauthorized_client, nothing written', async () => {
    const res = await rejected('/o/token/', {
      headers: { 'Content-Type': FORM },
      body: `grant_type=client_credentials&client_id=${pub.id}`,
    });
    expectOAuthError(res, 400, 'unauthorized_client');
  });

  it('RFC 6749 §3.3: an unknown scope → 400 invalid_scope, nothing written', async () => {
    expectOAuthError(
      await token(conf, { grant_type: 'client_credentials', scope: 'read nonsense' }),
      400,
      'invalid_scope',
    );
  });

  it('RFC 6749 §3.3: a scope the client may not request → 400 invalid_scope, nothing written', async () => {
    expectOAuthError(
      await token(conf, { grant_type: 'client_credentials', scope: 'graphql' }),
      400,
      'invalid_scope',
    );
  });

  it('RFC 6749 §3.3: a scope token with characters outside NQCHAR → 400 invalid_scope, nothing written', async () => {
    expectOAuthError(
      await token(conf, { grant_type: 'client_credentials', scope: 'read "write"' }),
      400,
      'invalid_scope',
    );
  });

  it('RFC 6749 §4.1.3: authorization_code without a code → 400 invalid_request, nothing written', async () => {
    expectOAuthError(
      await token(web, { grant_type: 'authorization_code', redirect_uri: WEB_REDIRECT }),
      400,
      'invalid_request',
    );
  });

  it('RFC 6749 §5.2: an unknown authorization code → 400 invalid_grant, nothing written', async () => {
    expectOAuthError(
      await token(web, {
        grant_type: 'authorization_code',
        code: 'no-such-code',
        redirect_uri: WEB_REDIRECT,
      }),
      400,
      'invalid_grant',
    );
  });

  it('RFC 6749 §6: refresh_token grant without a refresh_token → 400 invalid_request, nothing written', async () => {
    expectOAuthError(await token(pwd, { grant_type: 'refresh_token' }), 400, 'invalid_request');
  });

  it('RFC 6749 §6: an unknown refresh token → 400 invalid_grant, nothing written', async () => {
    expectOAuthError(
      await token(pwd, { grant_type: 'refresh_token', refresh_token: 'no-such-token' }),
      400,
      'invalid_grant',
    );
  });

  it("RFC 6749 §6: another client's refresh token → 400 invalid_grant; the token is neither consumed nor revoked", async () => {
    expectOAuthError(
      await token(web, { grant_type: 'refresh_token', refresh_token: refreshToken }),
      400,
      'invalid_grant',
    );
  });

  it('RFC 6749 §6: a refresh request widening the scope → 400 invalid_scope; the token is not consumed', async () => {
    expectOAuthError(
      await token(pwd, { grant_type: 'refresh_token', refresh_token: refreshToken, scope: 'read write' }),
      400,
      'invalid_scope',
    );
  });

  it('RFC 6749 §4.3.2: password grant without a password → 400 invalid_request, nothing written', async () => {
    expectOAuthError(await token(pwd, { grant_type: 'password', username: 'alice' }), 400, 'invalid_request');
  });

  it('RFC 6749 §5.2: password grant with a wrong password → 400 invalid_grant, nothing written', async () => {
    expectOAuthError(
      await token(pwd, { grant_type: 'password', username: 'alice', password: 'wrong-password' }),
      400,
      'invalid_grant',
    );
  });
});

describe('introspection endpoint: caller errors (RFC 7662 §2.1, §2.3)', () => {
  it('RFC 7662 §2.1: a public client may not introspect → 401 invalid_client, nothing written', async () => {
    const res = await rejected('/o/introspect/', {
      headers: { 'Content-Type': FORM },
      body: `token=${encodeURIComponent(accessToken)}&client_id=${pub.id}`,
    });
    expectOAuthError(res, 401, 'invalid_client');
  });

  it('RFC 7662 §2.1 / RFC 6750 §3.1: an unknown Bearer token → 401 invalid_token with WWW-Authenticate: Bearer', async () => {
    const res = await rejected('/o/introspect/', {
      headers: { 'Content-Type': FORM, Authorization: 'Bearer no-such-token' },
      body: `token=${encodeURIComponent(accessToken)}`,
    });
    expectOAuthError(res, 401, 'invalid_token');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b.*error="invalid_token"/);
  });

  it('RFC 7662 §2.1 / RFC 6750 §3.1: a Bearer token without the introspection scope → 403 insufficient_scope', async () => {
    const res = await rejected('/o/introspect/', {
      headers: { 'Content-Type': FORM, Authorization: `Bearer ${accessToken}` },
      body: `token=${encodeURIComponent(accessToken)}`,
    });
    expectOAuthError(res, 403, 'insufficient_scope');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b.*error="insufficient_scope"/);
  });

  it('RFC 7662 §2.1: an authenticated client without a token parameter → 400 invalid_request', async () => {
    const res = await rejected('/o/introspect/', {
      headers: withAuth(),
      body: 'token_type_hint=access_token',
    });
    expectOAuthError(res, 400, 'invalid_request');
  });
});

describe('revocation endpoint: caller errors (RFC 7009 §2.1, §2.2.1)', () => {
  it('RFC 7009 §2.1: an authenticated client without a token parameter → 400 invalid_request, nothing revoked', async () => {
    const res = await rejected('/o/revoke_token/', {
      headers: withAuth(),
      body: 'token_type_hint=access_token',
    });
    expectOAuthError(res, 400, 'invalid_request');
  });

  it("RFC 7009 §2.1: a client revoking another client's refresh token → 200, but nothing is revoked", async () => {
    const res = await rejected('/o/revoke_token/', {
      headers: withAuth(),
      body: `token=${encodeURIComponent(refreshToken)}&token_type_hint=refresh_token`,
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
  });
});

// ---------------------------------------------------------------------------------------------
// The authorization endpoint: untrusted client or redirect URI → a page, never a redirect

describe('authorization endpoint /o/authorize/ (RFC 6749 §4.1.2.1, §3.1)', () => {
  const authorize = (query: string) =>
    rejected(`/o/authorize/?${query}`, { method: 'GET', headers: { Accept: 'text/html' } });
  const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
  const good = () => ({
    response_type: 'code',
    client_id: web.id,
    redirect_uri: WEB_REDIRECT,
    scope: 'read',
    state: 'xyz',
  });

  it('RFC 6749 §4.1.2.1: an unknown client_id → 400 HTML page, no redirect, the redirect_uri is not echoed', async () => {
    const res = await authorize(
      q({ ...good(), client_id: 'no-such-client', redirect_uri: 'https://evil.example/cb' }),
    );
    expectErrorPage(res);
    expect(res.text).not.toContain('evil.example');
  });

  it('RFC 6749 §4.1.2.1: a missing client_id → 400 HTML page, no redirect', async () => {
    const { client_id: _, ...rest } = good();
    expectErrorPage(await authorize(q(rest)));
  });

  it.each([
    ['another host', 'https://evil.example/cb'],
    ['another scheme', 'http://web.example/cb'],
    ['another path', 'https://web.example/cb/other'],
    ['a trailing slash', 'https://web.example/cb/'],
    ['an added query', 'https://web.example/cb?next=https://evil.example'],
    ['another port', 'https://web.example:8443/cb'],
    ['different case in the path', 'https://web.example/CB'],
    ['userinfo', 'https://web.example@evil.example/cb'],
    ['a fragment', 'https://web.example/cb#x'],
  ])(
    'RFC 6749 §4.1.2.1 / §3.1.2.3: a redirect_uri with %s is not registered → 400 HTML page, no redirect; the URI is shown as text, never as a link',
    async (_what, uri) => {
      const res = await authorize(q({ ...good(), redirect_uri: uri }));
      expectErrorPage(res);
      expect(res.text).not.toMatch(/(href|action|src)="[^"]*evil\.example/);
    },
  );

  it('RFC 6749 §4.1.2.1: a public client with an unregistered redirect_uri → 400 HTML page, no redirect', async () => {
    const res = await authorize(
      q({
        response_type: 'code',
        client_id: pub.id,
        redirect_uri: 'https://evil.example/cb',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }),
    );
    expectErrorPage(res);
  });

  it.each([
    ['client_id', (g: Record<string, string>) => `${q(g)}&client_id=${encodeURIComponent(g.client_id)}`],
    ['redirect_uri', (g: Record<string, string>) => `${q(g)}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb`],
    ['response_type', (g: Record<string, string>) => `${q(g)}&response_type=code`],
    ['state', (g: Record<string, string>) => `${q(g)}&state=other`],
  ])('RFC 6749 §3.1: %s sent twice → 400 HTML page, no redirect', async (_name, build) => {
    const res = await authorize(build(good()));
    expectErrorPage(res);
    expect(res.text).not.toContain('evil.example');
  });

  it.each([
    ['invalid percent-encoding %zz', (g: Record<string, string>) => `${q(g)}&nonce=%zz`],
    ['truncated percent-encoding %E0%A4%A', (g: Record<string, string>) => `${q(g)}&nonce=%E0%A4%A`],
    ['percent-encoded non-UTF-8 %FF', (g: Record<string, string>) => `${q(g)}&nonce=%FF`],
    ['a percent-encoded NUL', (g: Record<string, string>) => `${q(g)}&state=a%00b`],
    [
      'invalid percent-encoding in client_id',
      (g: Record<string, string>) => q(g).replace('client_id=', 'client_id=%zz'),
    ],
  ])('RFC 6749 §4.1.2.1: a malformed query (%s) → 400 HTML page, no redirect', async (_what, build) => {
    expectErrorPage(await authorize(build(good())));
  });

  it('RFC 6749 §4.1.2.1: POST with a JSON body → 400 HTML page, no redirect', async () => {
    const res = await rejected('/o/authorize/', {
      headers: { Accept: 'text/html', 'Content-Type': 'application/json' },
      body: JSON.stringify(good()),
    });
    expectErrorPage(res);
  });

  it('RFC 6749 §4.1.2.1: POST with non-UTF-8 bytes → 400 HTML page, no redirect', async () => {
    const res = await rejected('/o/authorize/', {
      headers: { Accept: 'text/html', 'Content-Type': FORM },
      body: bytes(`${q(good())}&nonce=`, [0xff, 0xfe]),
    });
    expectErrorPage(res);
  });

  it('RFC 6749 §3.1: POST with a parameter sent twice → 400 HTML page, no redirect', async () => {
    const res = await rejected('/o/authorize/', {
      headers: { Accept: 'text/html', 'Content-Type': FORM },
      body: `${q(good())}&client_id=${web.id}`,
    });
    expectErrorPage(res);
  });

  it('RFC 6749 §4.1.2.1: POST with a 100 KB value → 413 HTML page, no redirect', async () => {
    const res = await rejected('/o/authorize/', {
      headers: { Accept: 'text/html', 'Content-Type': FORM },
      body: `${q(good())}&nonce=${'a'.repeat(100 * 1024)}`,
    });
    expectErrorPage(res, 413);
  });

  it('RFC 6749 §4.1.2.1 (contrast): once client and redirect_uri are trusted, an unsupported response_type goes back by redirect with state and iss', async () => {
    const res = await authorize(q({ ...good(), response_type: 'id_token' }));
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(WEB_REDIRECT);
    expect(location.searchParams.get('error')).toBe('unsupported_response_type');
    expect(location.searchParams.get('state')).toBe('xyz');
    expect(location.searchParams.get('iss')).toBe(server.runtime.config.issuer);
    expect(location.searchParams.get('code')).toBeNull();
  });
});
