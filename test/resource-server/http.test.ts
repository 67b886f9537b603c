import { OAuthProtectedResourceMetadataSchema } from '@modelcontextprotocol/sdk/shared/auth.js';
import express from 'express';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notesApi } from '../../examples/notes-api.js';
import {
  invalidToken,
  type ProofOfPossession,
  requireScopes,
  requireToken,
} from '../../src/resource-server/index.js';
import { rawRequest } from '../helpers/raw-http.js';
import {
  type Listening,
  listen,
  type ResourceFixture,
  signWithLatchkeyKey,
  startApi,
  startResourceFixture,
  tokenFor,
} from '../helpers/resource-server.js';

/**
 * The HTTP face of the library: RFC 6750 §2–3 (where the token may be, the challenge and its
 * error codes), RFC 9728 (the metadata document and the challenge's resource_metadata),
 * sender-constrained tokens, and a fuzz of hostile Authorization headers.
 */

let f: ResourceFixture;
let notes: Listening;
/** JWT mode, every request needs notes:read (requireToken's own scopes). */
let api: Listening;
const METADATA_PATH = '/.well-known/oauth-protected-resource/api';
const METADATA_URL = `https://notes.example.com${METADATA_PATH}`;
/** RFC 9449 §7.1: the proof algorithms the library accepts by default, in its DPoP challenge. */
const DPOP_ALGS = 'RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519';

beforeAll(async () => {
  f = await startResourceFixture();
  notes = await listen(notesApi({ issuer: f.issuer, resource: f.jwtResource }));
  api = await startApi(f, { scopes: ['notes:read'] });
});
afterAll(async () => {
  await notes?.close();
  await api?.close();
  await f?.latchkey.stop();
});

const get = (base: Listening, path: string, headers: Record<string, string> = {}) =>
  fetch(`${base.url}${path}`, { headers });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('RFC 6750 §3 / RFC 9728 §5.1: the challenge', () => {
  it('RFC 6750 §3.1: no token at all is 401 with a challenge without an error code, naming realm, scope and resource_metadata', async () => {
    const res = await get(api, '/api');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer realm="${f.jwtResource}", scope="notes:read", resource_metadata="${METADATA_URL}", DPoP algs="${DPOP_ALGS}"`,
    );
    expect(await res.json()).toEqual({ error_description: 'An access token is required.' });
  });

  it('RFC 6750 §3.1: another scheme (Basic) is no Bearer credential: 401 without an error code', async () => {
    const res = await get(api, '/api', { Authorization: 'Basic YWxpY2U6c2VjcmV0' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).not.toContain('error=');
  });

  it('RFC 6750 §3: an invalid token is 401 invalid_token, the description quoted safely', async () => {
    const res = await get(api, '/api', bearer('abc.def.ghi'));
    expect(res.status).toBe(401);
    const challenge = String(res.headers.get('www-authenticate'));
    expect(challenge).toMatch(
      /^Bearer realm="[^"]+", error="invalid_token", error_description="[\x20\x21\x23-\x5B\x5D-\x7E]+", scope="notes:read", resource_metadata="[^"]+", DPoP algs="[^"]+"$/,
    );
  });

  it('RFC 6750 §3.1: a token without the route scope is 403 insufficient_scope naming the scope (requireToken and requireScopes)', async () => {
    const writeOnly = await tokenFor(f, f.jwtResource, 'notes:write');
    const res = await get(api, '/api', bearer(writeOnly));
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(res.headers.get('www-authenticate')).toContain('scope="notes:read"');
    expect((await res.json()).error).toBe('insufficient_scope');

    const readOnly = await tokenFor(f, f.jwtResource, 'notes:read');
    const post = await fetch(`${notes.url}/notes`, {
      method: 'POST',
      headers: { ...bearer(readOnly), 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'hello' }),
    });
    expect(post.status).toBe(403);
    const challenge = String(post.headers.get('www-authenticate'));
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="notes:write"');
    expect(challenge).toContain(`resource_metadata="${METADATA_URL}"`);
    expect((await get(notes, '/notes', bearer(readOnly))).status).toBe(200);
  });

  it('requireScopes without requireToken before it is a routing mistake (500), never a silent pass', async () => {
    const app = express();
    app.get('/x', requireScopes('notes:read'), (_req, res) => void res.send('leaked'));
    const bare = await listen(app);
    try {
      const res = await get(bare, '/x');
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain('leaked');
    } finally {
      await bare.close();
    }
  });
});

describe('RFC 9728: protected resource metadata', () => {
  it('RFC 9728 §3 / §3.3: served at the path-suffixed URL the challenge names (and the root), resource = the identifier, authorization_servers = the issuer', async () => {
    for (const path of [METADATA_PATH, '/.well-known/oauth-protected-resource']) {
      const res = await get(notes, path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const doc = await res.json();
      expect(doc).toEqual({
        resource: f.jwtResource,
        authorization_servers: [f.issuer],
        scopes_supported: ['notes:read', 'notes:write'],
        bearer_methods_supported: ['header'],
        resource_name: 'Notes API',
      });
      // The MCP SDK's own schema of the document accepts it.
      expect(OAuthProtectedResourceMetadataSchema.safeParse(doc).success).toBe(true);
    }
    // RFC 9728 §7.6 / RFC 8414 §3.3: the named authorization server's metadata has that issuer.
    const as = await (await fetch(`${f.issuer}/.well-known/oauth-authorization-server`)).json();
    expect(as.issuer).toBe(f.issuer);
    expect((await fetch(`${notes.url}${METADATA_PATH}`, { method: 'POST' })).status).toBe(404);
  });
});

describe('RFC 6750 §2: where the token may be', () => {
  it('RFC 6750 §2.1: malformed Authorization headers are 400 invalid_request', async () => {
    for (const value of [
      'Bearer',
      'Bearer a b',
      'Bearer "quoted"',
      'Bearer to,ken',
      'Bearer tök',
      '(Bearer) x',
      ', Bearer x',
    ]) {
      const res = await get(api, '/api', { Authorization: value });
      expect(res.status, value).toBe(400);
      expect((await res.json()).error, value).toBe('invalid_request');
      expect(res.headers.get('www-authenticate'), value).toContain('error="invalid_request"');
    }
  });

  it('RFC 6750 §2.3 / OAuth 2.1 §5.2: a token in the query is refused (400), even with a valid header', async () => {
    const token = await tokenFor(f, f.jwtResource);
    for (const headers of [{}, bearer(token)]) {
      const res = await get(api, `/api?access_token=${token}`, headers);
      expect(res.status).toBe(400);
      expect((await res.json()).error_description).toMatch(/not in the URL/);
    }
  });

  it('RFC 6750 §2.2 / §3.1: a token in a form body is refused (400), also with a header (two methods)', async () => {
    const token = await tokenFor(f, f.jwtResource);
    for (const headers of [{}, bearer(token)]) {
      const res = await fetch(`${api.url}/api`, {
        method: 'POST',
        headers,
        body: new URLSearchParams({ access_token: token }),
      });
      expect(res.status).toBe(400);
      expect((await res.json()).error_description).toMatch(/not in the body/);
    }
  });

  it('RFC 6750 §3.1: two Authorization headers are 400 invalid_request (Node would keep only the first)', async () => {
    const token = await tokenFor(f, f.jwtResource);
    const res = await rawRequest(api.url, '/api', [
      `Authorization: Bearer ${token}`,
      'Authorization: Bearer other',
    ]);
    expect(res.status).toBe(400);
    const single = await rawRequest(api.url, '/api', [`Authorization: Bearer ${token}`]);
    expect(single.status).toBe(200);
  });

  it('an oversized token is refused before any parsing or network call', async () => {
    const res = await get(api, '/api', bearer('a'.repeat(9000)));
    expect(res.status).toBe(401);
    expect((await res.json()).error_description).toBe('The access token is too long.');
  });
});

describe('RFC 7800 cnf / RFC 9449: sender-constrained tokens', () => {
  const bound = () => signWithLatchkeyKey(f, { cnf: { jkt: 'thumbprint-of-the-client-key' } });

  const unboundCnf = () =>
    signWithLatchkeyKey(f, { cnf: { 'x5t#S256': 'thumbprint-of-a-client-certificate' } });

  it('RFC 9449 §7.2: a cnf.jkt token sent as Bearer is refused with the DPoP challenge (built-in check)', async () => {
    const res = await get(api, '/api', bearer(bound()));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^DPoP error="invalid_token", error_description="[^"]+", algs="/,
    );
    expect((await res.json()).error_description).toMatch(/DPoP-bound/);
  });

  it('RFC 7800: a token bound otherwise (mTLS x5t#S256) is refused as a bearer token when no proof-of-possession check is configured', async () => {
    const res = await get(api, '/api', bearer(unboundCnf()));
    expect(res.status).toBe(401);
    expect((await res.json()).error_description).toMatch(/sender-constrained/);
  });

  it('RFC 9449 §7.1: with dpop: false, the DPoP scheme is recognised and refused with a clear 400, and cnf tokens as sender-constrained', async () => {
    const off = await startApi(f, { dpop: false });
    try {
      const res = await get(off, '/api', { Authorization: `DPoP ${bound()}` });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: 'invalid_request',
        error_description: 'This resource does not accept DPoP-bound tokens yet; use a Bearer token.',
      });
      const asBearer = await get(off, '/api', bearer(bound()));
      expect(asBearer.status).toBe(401);
      expect(asBearer.headers.get('www-authenticate')).not.toContain('DPoP');
      expect((await asBearer.json()).error_description).toMatch(/sender-constrained/);
    } finally {
      await off.close();
    }
  });

  it('a proofOfPossession hook naming the DPoP scheme while the built-in check is on is a start-up error', async () => {
    expect(() =>
      requireToken({
        issuer: f.issuer,
        resource: f.jwtResource,
        proofOfPossession: { schemes: ['DPoP'], verify() {} },
      }),
    ).toThrow(/dpop: false/);
  });

  it('the proofOfPossession hook gets the scheme and the verified cnf, decides, and adds its challenge', async () => {
    const calls: { scheme: string; cnf: unknown }[] = [];
    const errors: Error[] = [];
    const pop: ProofOfPossession = {
      schemes: ['DPoP'],
      challenges: ['DPoP algs="ES256"'],
      verify(req, presented) {
        calls.push({ scheme: presented.scheme, cnf: presented.cnf });
        if (req.headers.dpop === 'crash') throw new Error('hook bug');
        if (presented.scheme !== 'DPoP' || req.headers.dpop !== 'good-proof')
          throw invalidToken('The DPoP proof is invalid.');
      },
    };
    const rs = await startApi(f, { proofOfPossession: pop, dpop: false, onError: (e) => errors.push(e) });
    try {
      const token = bound();
      const ok = await get(rs, '/api', { Authorization: `DPoP ${token}`, DPoP: 'good-proof' });
      expect(ok.status).toBe(200);
      expect(calls.at(-1)).toEqual({ scheme: 'DPoP', cnf: { jkt: 'thumbprint-of-the-client-key' } });
      const asBearer = await get(rs, '/api', { ...bearer(token), DPoP: 'good-proof' });
      expect(asBearer.status).toBe(401);
      expect(asBearer.headers.get('www-authenticate')).toMatch(
        /^Bearer .*error="invalid_token".*, DPoP algs="ES256"$/,
      );
      const crash = await get(rs, '/api', { Authorization: `DPoP ${token}`, DPoP: 'crash' });
      expect(crash.status).toBe(401);
      expect(errors.map((e) => e.message)).toEqual(['hook bug']);
      // A plain bearer token never reaches the hook.
      const before = calls.length;
      expect((await get(rs, '/api', bearer(await tokenFor(f, f.jwtResource)))).status).toBe(200);
      expect(calls.length).toBe(before);
    } finally {
      await rs.close();
    }
  });
});

describe('hostile input never yields a 500', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  const pieces = [
    'Bearer ',
    'bearer ',
    'DPoP ',
    'Basic ',
    ' ',
    '\t',
    '"',
    '\\',
    ',',
    '=',
    '.',
    '..',
    'é',
    '\u00ff',
    'a'.repeat(300),
    b64('{"alg":"RS256","kid":{"$ne":1},"typ":"at+jwt"}'),
    b64('{"alg":["RS256"],"typ":"at+jwt"}'),
    b64('{"alg":"RS256","crit":["exp"],"typ":"at+jwt"}'),
    b64('{"alg":"RS256","jku":"http://127.0.0.1:1/jwks","typ":"at+jwt"}'),
    b64('{"alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},"typ":"at+jwt"}'),
    b64('{"alg":"none"}'),
    b64('{"alg":"RS256","kid":"__proto__"}'),
    b64('{"__proto__":{"admin":true},"aud":{"toString":1},"exp":"soon","scope":["notes:read"]}'),
    b64('not json'),
    b64('null'),
    b64('[]'),
  ];

  it('a fuzz of Authorization headers (bytes on the wire) answers 200/400/401/403 and nothing else', async () => {
    const rs = await startApi(f, {
      mode: 'auto',
      introspection: { clientId: f.introspector.clientId, clientSecret: String(f.introspector.clientSecret) },
    });
    try {
      const value = fc
        .array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 20 })), { maxLength: 8 })
        .map((parts) => parts.join('').replace(/[\r\n\0]/g, ''));
      await fc.assert(
        fc.asyncProperty(value, fc.boolean(), async (v, twice) => {
          const lines = twice ? [`Authorization: ${v}`, `Authorization: ${v}`] : [`Authorization: ${v}`];
          const { status } = await rawRequest(rs.url, '/api', lines);
          expect([200, 400, 401, 403]).toContain(status);
        }),
        { numRuns: 150 },
      );
      // Query strings and form bodies of the same kind.
      const nasty = [
        'access_token',
        'access_token[]=1',
        'access_token=%zz',
        '%61ccess_token=x',
        '&&&=',
        '%00',
      ];
      for (const q of nasty) {
        expect([400, 401]).toContain((await rawRequest(rs.url, `/api?${q}`, [])).status);
        const form = await rawRequest(rs.url, '/api', ['Content-Type: application/x-www-form-urlencoded'], {
          method: 'POST',
          body: q,
        });
        expect([400, 401]).toContain(form.status);
      }
      // Still serving.
      expect((await get(rs, '/api', bearer(await tokenFor(f, f.jwtResource)))).status).toBe(200);
    } finally {
      await rs.close();
    }
  });
});

describe('configuration mistakes fail at start-up, not per request', () => {
  it('requireToken refuses alg none / HS*, a resource with a fragment, introspection without credentials', () => {
    const base = { issuer: f.issuer, resource: f.jwtResource };
    expect(() => requireToken({ ...base, algorithms: ['RS256', 'none'] })).toThrow(/none/);
    expect(() => requireToken({ ...base, algorithms: ['HS256'] })).toThrow(/HS256/);
    expect(() => requireToken({ ...base, resource: 'https://api.example.com/#x' })).toThrow(/fragment/);
    expect(() => requireToken({ ...base, mode: 'introspection' })).toThrow(/introspection.clientId/);
    expect(() => requireToken({ ...base, issuer: 'not a url' })).toThrow(/issuer/);
  });
});
