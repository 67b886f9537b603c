import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCOPES } from '../../src/config/scopes.js';
import {
  type ApplicationInput,
  createApplication,
  updateApplication,
} from '../../src/services/applications.js';
import { createUser } from '../../src/services/users.js';
import { basic } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * CORS on the endpoints browsers call cross-origin (token, revocation, introspection), per
 * application `allowedOrigins`, and never on the authorization endpoint; then the RFC 8414 and
 * OpenID Connect discovery documents.
 */

let server: TestServer;

interface Client {
  /** The application's database id, for updates. */
  appId: string;
  id: string;
  secret: string;
}
/** Confidential, client_credentials; registers ORIGIN_A. */
let spaA: Client;
/** Confidential, client_credentials; registers ORIGIN_B. */
let spaB: Client;
/** Confidential, authorization_code; also registers ORIGIN_A (for the authorization endpoint checks). */
let webC: Client;
/** Public SPA, authorization_code with PKCE; registers ORIGIN_PUBLIC. */
let pub: Client;
let accessToken: string;

const ORIGIN_A = 'https://spa-a.example';
const ORIGIN_B = 'https://spa-b.example';
const ORIGIN_PUBLIC = 'http://localhost:3000';
const ORIGIN_UNREGISTERED = 'https://evil.example';
const FORM = 'application/x-www-form-urlencoded';
const CORS_PATHS = ['/o/token/', '/o/revoke_token/', '/o/introspect/'] as const;

beforeAll(async () => {
  // No per-process origin cache: changes to allowedOrigins show at once.
  server = await startTestServer({ env: { CLIENT_CACHE_TTL: '0' } });
  const owner = await createUser(server.cli(), { username: 'carol', password: 'carol-password' });
  const make = async (input: ApplicationInput): Promise<Client> => {
    const { application, clientSecret } = await createApplication(server.cli(), owner, input);
    return { appId: application.id, id: application.clientId, secret: clientSecret ?? '' };
  };
  spaA = await make({
    name: 'spa a',
    clientType: 'confidential',
    grantTypes: ['client_credentials'],
    allowedOrigins: [ORIGIN_A],
  });
  spaB = await make({
    name: 'spa b',
    clientType: 'confidential',
    grantTypes: ['client_credentials'],
    allowedOrigins: [ORIGIN_B],
  });
  webC = await make({
    name: 'web c',
    clientType: 'confidential',
    grantTypes: ['authorization_code'],
    redirectUris: ['https://c.example/cb'],
    allowedOrigins: [ORIGIN_A],
  });
  pub = await make({
    name: 'public spa',
    clientType: 'public',
    grantTypes: ['authorization_code'],
    redirectUris: [`${ORIGIN_PUBLIC}/cb`],
    allowedOrigins: [ORIGIN_PUBLIC],
  });
  const res = await post('/o/token/', 'grant_type=client_credentials&scope=read', {
    Authorization: basic(spaA.id, spaA.secret),
  });
  expect(res.status).toBe(200);
  accessToken = JSON.parse(res.text).access_token;
});

afterAll(async () => {
  await server?.stop();
});

interface Sent {
  status: number;
  headers: Headers;
  text: string;
}

async function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Sent> {
  const res = await fetch(new URL(path, server.url), { method, headers, body, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  send('POST', path, { 'Content-Type': FORM, ...headers }, body);

const preflight = (path: string, origin?: string) =>
  send('OPTIONS', path, {
    ...(origin ? { Origin: origin } : {}),
    'Access-Control-Request-Method': 'POST',
    'Access-Control-Request-Headers': 'authorization, content-type',
  });

const list = (value: string | null) => (value ?? '').split(',').map((s) => s.trim().toLowerCase());

function expectVaryOrigin(res: Sent): void {
  expect(list(res.headers.get('vary'))).toContain('origin');
}

function expectNoCors(res: Sent): void {
  for (const [name] of res.headers) expect(name, `unexpected ${name}`).not.toMatch(/^access-control-/);
}

/** What each CORS endpoint answers for a well-formed request from `client`. */
function validRequest(path: (typeof CORS_PATHS)[number]): string {
  if (path === '/o/token/') return 'grant_type=client_credentials&scope=read';
  // An unknown token: revocation answers 200 without revoking anything (RFC 7009 §2.2).
  if (path === '/o/revoke_token/') return 'token=unknown-token';
  return `token=${encodeURIComponent(accessToken)}`;
}

// ---------------------------------------------------------------------------------------------

describe('CORS preflight (Fetch standard, CORS protocol) on the token, revocation and introspection endpoints', () => {
  for (const path of CORS_PATHS) {
    it(`CORS preflight: OPTIONS ${path} from a registered origin → 204, that origin allowed, POST + Authorization + Content-Type, no credentials, no authentication needed`, async () => {
      const res = await preflight(path, ORIGIN_A);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN_A);
      expect(list(res.headers.get('access-control-allow-methods'))).toContain('post');
      const allowed = list(res.headers.get('access-control-allow-headers'));
      expect(allowed).toContain('authorization');
      expect(allowed).toContain('content-type');
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expectVaryOrigin(res);
    });

    it(`CORS preflight: OPTIONS ${path} from an origin another application registered → allowed (preflights carry no client identity)`, async () => {
      const res = await preflight(path, ORIGIN_B);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN_B);
    });

    it.each([
      ['an unregistered origin', ORIGIN_UNREGISTERED],
      ['the opaque origin "null"', 'null'],
      ['a registered host with another scheme', 'http://spa-a.example'],
      ['a registered host with another port', 'https://spa-a.example:8443'],
      ['a registered origin as a prefix of another host', 'https://spa-a.example.evil.example'],
      ['a subdomain of a registered host', 'https://www.spa-a.example'],
    ])(`CORS preflight: OPTIONS ${path} from %s → no Access-Control-Allow-Origin`, async (_what, origin) => {
      const res = await preflight(path, origin);
      expect(res.status).toBeLessThan(500);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-methods')).toBeNull();
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expectVaryOrigin(res);
    });

    it(`CORS preflight: OPTIONS ${path} without an Origin header → no Access-Control-Allow-Origin`, async () => {
      const res = await preflight(path);
      expect(res.status).toBeLessThan(500);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    });
  }

  it('CORS preflight: an origin added to an application is allowed at once, and refused again once removed', async () => {
    const fresh = 'https://new-spa.example';
    expect((await preflight('/o/token/', fresh)).headers.get('access-control-allow-origin')).toBeNull();
    await updateApplication(server.cli(), spaB.appId, { allowedOrigins: [ORIGIN_B, fresh] });
    expect((await preflight('/o/token/', fresh)).headers.get('access-control-allow-origin')).toBe(fresh);
    await updateApplication(server.cli(), spaB.appId, { allowedOrigins: [ORIGIN_B] });
    expect((await preflight('/o/token/', fresh)).headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight('/o/token/', ORIGIN_B)).headers.get('access-control-allow-origin')).toBe(
      ORIGIN_B,
    );
  });
});

describe('CORS on actual requests: only for the authenticated client’s own origins', () => {
  for (const path of CORS_PATHS) {
    it(`CORS: POST ${path} from an origin the authenticated client registered → 200 with that origin allowed, Vary: Origin, no credentials`, async () => {
      const res = await post(path, validRequest(path), {
        Origin: ORIGIN_A,
        Authorization: basic(spaA.id, spaA.secret),
      });
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN_A);
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expectVaryOrigin(res);
    });

    it(`CORS: POST ${path} from an origin only another application registered → no Access-Control-Allow-Origin, Vary: Origin`, async () => {
      const res = await post(path, validRequest(path), {
        Origin: ORIGIN_B,
        Authorization: basic(spaA.id, spaA.secret),
      });
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expectVaryOrigin(res);
    });

    it(`CORS: POST ${path} from an unregistered origin → no Access-Control-Allow-Origin, Vary: Origin`, async () => {
      const res = await post(path, validRequest(path), {
        Origin: ORIGIN_UNREGISTERED,
        Authorization: basic(spaA.id, spaA.secret),
      });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expectVaryOrigin(res);
    });

    it(`CORS: POST ${path} without an Origin header still answers Vary: Origin (shared caches)`, async () => {
      const res = await post(path, validRequest(path), { Authorization: basic(spaA.id, spaA.secret) });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expectVaryOrigin(res);
    });

    it(`CORS: POST ${path} whose client authentication fails → 401 without Access-Control-Allow-Origin, Vary: Origin`, async () => {
      const res = await post(path, validRequest(path), {
        Origin: ORIGIN_A,
        Authorization: basic(spaA.id, 'wrong-secret'),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expectVaryOrigin(res);
    });
  }

  it('CORS + RFC 6749 §5.2: a public SPA’s failed token request from its own origin is readable: 400 invalid_grant with its origin allowed', async () => {
    const res = await post(
      '/o/token/',
      `grant_type=authorization_code&client_id=${pub.id}&code=no-such-code&redirect_uri=${encodeURIComponent(`${ORIGIN_PUBLIC}/cb`)}&code_verifier=${'v'.repeat(43)}`,
      { Origin: ORIGIN_PUBLIC },
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error).toBe('invalid_grant');
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN_PUBLIC);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('CORS + RFC 7009 §2.1: a public SPA revokes from its own origin → 200 with its origin allowed', async () => {
    const res = await post('/o/revoke_token/', `token=unknown-token&client_id=${pub.id}`, {
      Origin: ORIGIN_PUBLIC,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN_PUBLIC);
  });
});

describe('the authorization endpoint never sends CORS headers (RFC 6749 §4.1.1: it is navigated to, not fetched)', () => {
  const query = () =>
    new URLSearchParams({
      response_type: 'code',
      client_id: webC.id,
      redirect_uri: 'https://c.example/cb',
      scope: 'read',
      state: 's',
    }).toString();

  it('RFC 6749 §4.1.1: GET /o/authorize/ from an origin the client registered → no Access-Control-* header', async () => {
    const res = await send('GET', `/o/authorize/?${query()}`, { Origin: ORIGIN_A });
    expect(res.status).toBeLessThan(500);
    expectNoCors(res);
  });

  it('RFC 6749 §4.1.1: GET /o/authorize/ with an error page from a registered origin → no Access-Control-* header', async () => {
    const res = await send('GET', '/o/authorize/?client_id=no-such-client', { Origin: ORIGIN_A });
    expect(res.status).toBe(400);
    expectNoCors(res);
  });

  it('RFC 6749 §4.1.1: POST /o/authorize/ from a registered origin → no Access-Control-* header', async () => {
    const res = await post('/o/authorize/', query(), { Origin: ORIGIN_A });
    expect(res.status).toBeLessThan(500);
    expectNoCors(res);
  });

  it('RFC 6749 §4.1.1: OPTIONS /o/authorize/ preflight from a registered origin → no Access-Control-* header', async () => {
    const res = await send('OPTIONS', `/o/authorize/?${query()}`, {
      Origin: ORIGIN_A,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type',
    });
    expect(res.status).toBeLessThan(500);
    expectNoCors(res);
  });
});

// ---------------------------------------------------------------------------------------------

const ENDPOINT_PATHS: Record<string, string> = {
  authorization_endpoint: '/o/authorize/',
  token_endpoint: '/o/token/',
  revocation_endpoint: '/o/revoke_token/',
  introspection_endpoint: '/o/introspect/',
  jwks_uri: '/o/jwks/',
  userinfo_endpoint: '/o/userinfo/',
};

for (const [doc, spec] of [
  ['/.well-known/oauth-authorization-server', 'RFC 8414'],
  ['/.well-known/openid-configuration', 'OIDC Discovery 1.0'],
] as const) {
  describe(`${spec} metadata at ${doc}`, () => {
    let meta: Record<string, unknown>;
    let issuer: string;
    beforeAll(async () => {
      const res = await send('GET', doc);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json\b/);
      meta = JSON.parse(res.text);
      issuer = server.runtime.config.issuer;
    });

    it(`RFC 8414 §3.2 (${spec}): served with 200 and Content-Type application/json`, async () => {
      const res = await send('GET', doc);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json\b/);
    });

    it(`RFC 8414 §2 / §3.3 (${spec}): issuer equals the configured issuer, an https-or-http URL without query or fragment`, () => {
      expect(meta.issuer).toBe(issuer);
      const url = new URL(meta.issuer as string);
      expect(url.search).toBe('');
      expect(url.hash).toBe('');
      // The document is served at the issuer's well-known location (RFC 8414 §3).
      expect(new URL(doc, issuer).href).toBe(`${issuer}${doc}`);
    });

    it(`RFC 8414 §2 (${spec}): every endpoint URL is present, absolute and under the issuer`, () => {
      for (const field of [...Object.keys(ENDPOINT_PATHS), 'end_session_endpoint']) {
        const value = meta[field];
        expect(typeof value, field).toBe('string');
        expect(value as string, field).toMatch(
          new RegExp(`^${issuer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/`),
        );
        expect(new URL(value as string).hash, field).toBe('');
      }
      for (const [field, path] of Object.entries(ENDPOINT_PATHS))
        expect(meta[field], field).toBe(`${issuer}${path}`);
    });

    it(`RFC 8414 §2 (${spec}): the advertised authorization, token, revocation and introspection endpoints are served here`, async () => {
      const local = (field: string) => new URL(new URL(meta[field] as string).pathname, server.url).href;
      const authorize = await send('GET', local('authorization_endpoint'), { Accept: 'text/html' });
      expect(authorize.status).toBe(400); // no client_id: an error page, but the endpoint exists
      for (const field of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
        const res = await post(local(field), '');
        expect([400, 401], `${field}: ${res.status} ${res.text}`).toContain(res.status);
        expect(JSON.parse(res.text).error).toMatch(/^invalid_(request|client)$/);
      }
    });

    it(`RFC 8414 §2 (${spec}): grant_types_supported and response_types_supported cover the code flow`, () => {
      expect(meta.grant_types_supported).toEqual(
        expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']),
      );
      expect(meta.response_types_supported).toContain('code');
    });

    it(`RFC 8414 §2 (${spec}): token_endpoint_auth_methods_supported has client_secret_basic, client_secret_post and none`, () => {
      expect(meta.token_endpoint_auth_methods_supported).toEqual(
        expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'none']),
      );
    });

    it(`RFC 8414 §2 + RFC 7636 §4.2 (${spec}): code_challenge_methods_supported is exactly ["S256"] (plain is off by default)`, () => {
      expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    });

    it(`RFC 8414 §2 (${spec}): scopes_supported contains every default scope`, () => {
      expect(meta.scopes_supported).toEqual(expect.arrayContaining(Object.keys(DEFAULT_SCOPES)));
      expect(meta.scopes_supported).toContain('openid');
    });

    it(`RFC 9207 §3 (${spec}): authorization_response_iss_parameter_supported is true`, () => {
      expect(meta.authorization_response_iss_parameter_supported).toBe(true);
    });
  });
}

describe('OpenID Connect discovery specifics', () => {
  it('OIDC Discovery 1.0 §3: the REQUIRED fields are present (subject types, id_token signing algorithms with RS256)', async () => {
    const meta = JSON.parse((await send('GET', '/.well-known/openid-configuration')).text);
    expect(meta.subject_types_supported).toEqual(expect.arrayContaining(['public']));
    expect(meta.id_token_signing_alg_values_supported).toContain('RS256');
    expect(meta.id_token_signing_alg_values_supported).not.toContain('none');
  });

  it('OIDC Discovery 1.0 §3 / RFC 8414 §2: both documents agree on every field RFC 8414 defines', async () => {
    const oauth = JSON.parse((await send('GET', '/.well-known/oauth-authorization-server')).text);
    const oidc = JSON.parse((await send('GET', '/.well-known/openid-configuration')).text);
    for (const [key, value] of Object.entries(oauth)) expect(oidc[key], key).toEqual(value);
  });
});
