import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEvents } from '../../src/services/audit.js';
import { revokeGrantFor } from '../../src/services/grants.js';
import { createResource } from '../../src/services/resources.js';
import { createUser, findUserByUsername } from '../../src/services/users.js';
import { DpopKey } from '../helpers/dpop.js';
import { Agent } from '../helpers/http.js';
import { codeFlow, makeClient, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * RFC 8693 token exchange over real HTTP against a listening server on PostgreSQL: impersonation,
 * delegation with `act` (nested for chains), narrowing of scope and audience, refusal of every
 * widening, inactive or foreign subject tokens, and input an attacker would send.
 */

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const AT = 'urn:ietf:params:oauth:token-type:access_token';
const IDT = 'urn:ietf:params:oauth:token-type:id_token';
const RT = 'urn:ietf:params:oauth:token-type:refresh_token';

const API_B = 'https://api-b.example.com/';
const API_C = 'https://api-c.example.com/';
const JWT_API = 'https://jwt-api.example.com/';
const READ_ONLY = 'https://read-only.example.com/';

let server: TestServer;
/** Impersonation allowed, refresh tokens allowed. */
let exchanger: TestClient;
/** Delegation only. */
let delegator: TestClient;
let other: TestClient;
let publicClient: TestClient;
let machine: TestClient;
let aliceId: string;
let agent: Agent;

beforeAll(async () => {
  server = await startTestServer();
  const cli = server.cli();
  await createResource(cli, { identifier: API_B, name: 'API B', scopes: ['read', 'write'] });
  await createResource(cli, { identifier: API_C, name: 'API C (not in any policy)' });
  await createResource(cli, { identifier: JWT_API, name: 'JWT API', accessTokenFormat: 'jwt' });
  await createResource(cli, { identifier: READ_ONLY, name: 'Read-only API', scopes: ['read'] });
  const alice = await createUser(cli, { username: 'alice', password: 'alice-password' });
  aliceId = alice.id;
  await createUser(cli, { username: 'bob', password: 'bob-password' });
  const scopes = ['read', 'write', 'openid', 'profile'];
  exchanger = await makeClient(server, {
    grantTypes: ['authorization_code', 'password', 'refresh_token', 'client_credentials', TE],
    scopes,
    tokenExchangeAudiences: [API_B, JWT_API, READ_ONLY],
    tokenExchangeImpersonation: true,
    tokenExchangeRefreshTokens: true,
  });
  delegator = await makeClient(server, {
    grantTypes: ['password', 'client_credentials', TE],
    redirectUris: [],
    scopes,
    tokenExchangeAudiences: [API_B, JWT_API],
  });
  other = await makeClient(server, {
    grantTypes: ['authorization_code', 'password', 'client_credentials', TE],
    scopes,
    tokenExchangeAudiences: [API_B],
    tokenExchangeImpersonation: true,
  });
  publicClient = await makeClient(server, {
    clientType: 'public',
    grantTypes: ['authorization_code'],
    scopes,
  });
  machine = await makeClient(server, {
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scopes: ['read', 'introspection'],
  });
});
afterAll(() => server?.stop());

/** An ID token for alice, from the code flow in her browser (the password grant issues none). */
async function idToken(client: TestClient): Promise<string> {
  if (!agent) {
    agent = new Agent(server.url);
    await agent.login('alice', 'alice-password');
  }
  const tokens = await codeFlow(server, agent, client, { scope: 'openid read' });
  expect(typeof tokens.id_token).toBe('string');
  return String(tokens.id_token);
}

async function userToken(client: TestClient, username = 'alice', scope = 'read write') {
  const res = await postForm(
    server,
    '/o/token/',
    { grant_type: 'password', username, password: `${username}-password`, scope },
    client,
  );
  expect(res.status, res.text).toBe(200);
  return res.json as { access_token: string; id_token?: string; refresh_token?: string; expires_in: number };
}

async function clientToken(client: TestClient) {
  const res = await postForm(
    server,
    '/o/token/',
    { grant_type: 'client_credentials', scope: 'read' },
    client,
  );
  expect(res.status, res.text).toBe(200);
  return String(res.json.access_token);
}

const exchange = (client: TestClient, form: Record<string, string>, headers: Record<string, string> = {}) =>
  postForm(server, '/o/token/', { grant_type: TE, ...form }, client, headers);

/** The form members naming an access token as the subject (RFC 8693 §2.1). */
const asSubject = (token: string) => ({ subject_token: token, subject_token_type: AT });
/** … and as the actor. */
const asActor = (token: string) => ({ actor_token: token, actor_token_type: AT });

/** RFC 6749 §5.2: a 400 with this error code (and no token). */
function refused(res: { status: number; json: Record<string, unknown> }, error: string) {
  expect(res.status).toBe(400);
  expect(res.json.error).toBe(error);
  expect(res.json.access_token).toBeUndefined();
}

async function introspect(token: string) {
  return (await postForm(server, '/o/introspect/', { token }, machine)).json;
}

function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

describe('impersonation and the response (RFC 8693 §2.1, §2.2.1)', () => {
  it('RFC 8693 §2.2.1: an access token for the audience, issued_token_type, Bearer, no-store, the narrowed scope', async () => {
    const subject = await userToken(exchanger);
    const res = await exchange(exchanger, {
      ...asSubject(subject.access_token),
      resource: API_B,
      scope: 'read',
    });
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.json.issued_token_type).toBe(AT);
    expect(res.json.token_type).toBe('Bearer');
    expect(res.json.scope).toBe('read');
    expect(res.json.expires_in).toBeLessThanOrEqual(subject.expires_in);
    const info = await introspect(String(res.json.access_token));
    expect(info).toMatchObject({
      active: true,
      sub: aliceId,
      aud: API_B,
      scope: 'read',
      client_id: exchanger.clientId,
    });
    expect(info.act).toBeUndefined();
  });

  it('RFC 8693 §2.1: audience as a logical name of a registered resource works like resource', async () => {
    const subject = await userToken(exchanger);
    const res = await exchange(exchanger, {
      ...asSubject(subject.access_token),
      audience: API_B,
    });
    expect(res.status, res.text).toBe(200);
    expect((await introspect(String(res.json.access_token))).aud).toBe(API_B);
  });

  it('RFC 8693 §2.1 / RFC 9068: a JWT audience gets a JWT with the subject as sub and the exchanger as client_id', async () => {
    const subject = await userToken(exchanger);
    const res = await exchange(exchanger, {
      ...asSubject(subject.access_token),
      resource: JWT_API,
    });
    expect(res.status, res.text).toBe(200);
    const claims = jwtClaims(String(res.json.access_token));
    expect(claims).toMatchObject({ sub: aliceId, aud: JWT_API, client_id: exchanger.clientId });
    expect(claims.act).toBeUndefined();
  });

  it('RFC 8693 §2.1: an ID token of this server is a subject (verified signature, issuer, audience)', async () => {
    const subject = {
      id_token: await idToken(exchanger),
      access_token: (await userToken(exchanger)).access_token,
    };
    const res = await exchange(exchanger, {
      subject_token: String(subject.id_token),
      subject_token_type: IDT,
      resource: API_B,
    });
    expect(res.status, res.text).toBe(200);
    expect((await introspect(String(res.json.access_token))).sub).toBe(aliceId);
    // A tampered ID token (payload changed, signature kept) is not this server's.
    const [h, , s] = String(subject.id_token).split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...jwtClaims(String(subject.id_token)), sub: 'x' })).toString('base64url')}.${s}`;
    const refused = await exchange(exchanger, {
      subject_token: forged,
      subject_token_type: IDT,
      resource: API_B,
    });
    expect(refused.json.error).toBe('invalid_request');
    // An access token is not an ID token, whatever the type says.
    const mislabelled = await exchange(exchanger, {
      subject_token: subject.access_token,
      subject_token_type: IDT,
      resource: API_B,
    });
    expect(mislabelled.json.error).toBe('invalid_request');
  });

  it('RFC 8693 §2.1 (no target named): the policy’s only audience is not guessed when there are several', async () => {
    const subject = await userToken(exchanger);
    const res = await exchange(exchanger, { ...asSubject(subject.access_token) });
    refused(res, 'invalid_target');
    // `other` lists one audience: it is the target.
    const own = await userToken(other);
    const single = await exchange(other, { ...asSubject(own.access_token) });
    expect(single.status, single.text).toBe(200);
    expect((await introspect(String(single.json.access_token))).aud).toBe(API_B);
  });

  it('RFC 9449 §5: with a DPoP proof the exchanged token is DPoP-bound (token_type DPoP, cnf.jkt)', async () => {
    const key = await DpopKey.generate();
    const subject = await userToken(exchanger);
    const proof = await key.proof('POST', `${server.url}/o/token/`);
    const res = await exchange(
      exchanger,
      { ...asSubject(subject.access_token), resource: API_B },
      { DPoP: proof },
    );
    expect(res.status, res.text).toBe(200);
    expect(res.json.token_type).toBe('DPoP');
    expect((await introspect(String(res.json.access_token))).cnf).toEqual({ jkt: key.jkt });
  });

  it('RFC 8693 §2.2.1: a refresh token only where the policy allows it (requested_token_type refresh_token)', async () => {
    const subject = await userToken(exchanger);
    const res = await exchange(exchanger, {
      ...asSubject(subject.access_token),
      resource: API_B,
      requested_token_type: RT,
    });
    expect(res.status, res.text).toBe(200);
    expect(typeof res.json.refresh_token).toBe('string');
    const refreshInfo = await postForm(
      server,
      '/o/introspect/',
      { token: String(res.json.refresh_token) },
      exchanger,
    );
    expect(refreshInfo.json).toMatchObject({ active: true, sub: aliceId });
    // The refresh token's lifetime is the subject's too: never beyond what the subject had left.
    expect(Number(refreshInfo.json.exp) - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(
      subject.expires_in,
    );
    const refreshed = await postForm(
      server,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: String(res.json.refresh_token), resource: API_B },
      exchanger,
    );
    expect(refreshed.status, refreshed.text).toBe(200);

    const own = await userToken(delegator);
    const actor = await clientToken(delegator);
    const noRefresh = await exchange(delegator, {
      ...asSubject(own.access_token),
      ...asActor(actor),
      resource: API_B,
      requested_token_type: RT,
    });
    refused(noRefresh, 'invalid_request');
  });

  it('RFC 8693 §2.2.2: an unknown requested_token_type is invalid_request', async () => {
    const subject = await userToken(exchanger);
    for (const requested of [IDT, 'urn:ietf:params:oauth:token-type:jwt', 'x']) {
      const res = await exchange(exchanger, {
        ...asSubject(subject.access_token),
        resource: API_B,
        requested_token_type: requested,
      });
      expect(res.json.error, requested).toBe('invalid_request');
    }
  });
});

describe('delegation (RFC 8693 §1.1, §4.1)', () => {
  it('RFC 8693 §4.1: with actor_token the token carries act naming the actor (JWT claim and introspection)', async () => {
    const subject = await userToken(delegator);
    const actor = await clientToken(delegator);
    const res = await exchange(delegator, {
      ...asSubject(subject.access_token),
      ...asActor(actor),
      resource: API_B,
    });
    expect(res.status, res.text).toBe(200);
    const info = await introspect(String(res.json.access_token));
    expect(info).toMatchObject({ active: true, sub: aliceId, act: { sub: delegator.clientId } });

    const jwt = await exchange(delegator, {
      ...asSubject(subject.access_token),
      ...asActor(actor),
      resource: JWT_API,
    });
    expect(jwt.status, jwt.text).toBe(200);
    expect(jwtClaims(String(jwt.json.access_token)).act).toEqual({ sub: delegator.clientId });
  });

  it('RFC 8693 §4.1: exchanging a delegated token again nests the earlier actor (act.act)', async () => {
    const subject = await userToken(delegator);
    const first = await exchange(delegator, {
      ...asSubject(subject.access_token),
      ...asActor(await clientToken(delegator)),
      resource: API_B,
      scope: 'read write',
    });
    expect(first.status, first.text).toBe(200);
    // Bob (through the same application) now acts on the delegated token.
    const bobs = await userToken(delegator, 'bob');
    const bob = await findUserByUsername(server.cli(), 'bob');
    const second = await exchange(delegator, {
      ...asSubject(String(first.json.access_token)),
      ...asActor(bobs.access_token),
      resource: JWT_API,
      scope: 'read',
    });
    expect(second.status, second.text).toBe(200);
    const claims = jwtClaims(String(second.json.access_token));
    expect(claims.sub).toBe(aliceId);
    expect(claims.act).toEqual({
      sub: bob?.id,
      client_id: delegator.clientId,
      act: { sub: delegator.clientId },
    });
  });

  it('RFC 8693 §4.1: a delegation chain is bounded (the sixth nested actor is refused)', async () => {
    let token = (await userToken(delegator)).access_token;
    const actor = await clientToken(delegator);
    const step = (subject: string) =>
      exchange(delegator, {
        ...asSubject(subject),
        ...asActor(actor),
        resource: API_B,
      });
    for (let depth = 1; depth <= 5; depth++) {
      const res = await step(token);
      expect(res.status, `depth ${depth}: ${res.text}`).toBe(200);
      token = String(res.json.access_token);
    }
    const sixth = await step(token);
    refused(sixth, 'invalid_request');
  });

  it('RFC 8693 §1.1: an application allowed only delegation is refused an exchange without actor_token', async () => {
    const subject = await userToken(delegator);
    const res = await exchange(delegator, {
      ...asSubject(subject.access_token),
      resource: API_B,
    });
    refused(res, 'invalid_request');
  });

  it('RFC 8693 §2.1: actor_token without actor_token_type (and the reverse) is invalid_request', async () => {
    const subject = await userToken(delegator);
    const actor = await clientToken(delegator);
    const a = await exchange(delegator, {
      ...asSubject(subject.access_token),
      actor_token: actor,
      resource: API_B,
    });
    refused(a, 'invalid_request');
    const b = await exchange(delegator, {
      ...asSubject(subject.access_token),
      actor_token_type: AT,
      resource: API_B,
    });
    expect(b.json.error).toBe('invalid_request');
  });

  it("RFC 8693 §2.2.2: another application's actor token is refused", async () => {
    const subject = await userToken(delegator);
    const foreignActor = await clientToken(other);
    const res = await exchange(delegator, {
      ...asSubject(subject.access_token),
      ...asActor(foreignActor),
      resource: API_B,
    });
    refused(res, 'invalid_request');
  });
});

describe('narrowing, never widening (RFC 8693 §2.1, §2.2.2)', () => {
  it('RFC 8693 §2.2.2: a scope beyond the subject token’s is invalid_scope', async () => {
    const subject = await userToken(exchanger, 'alice', 'read');
    const res = await exchange(exchanger, {
      ...asSubject(subject.access_token),
      resource: API_B,
      scope: 'read write',
    });
    refused(res, 'invalid_scope');
  });

  it('RFC 8707 §2.2: the audience’s accepted scopes bound the exchanged token', async () => {
    const subject = await userToken(exchanger);
    const refused = await exchange(exchanger, {
      ...asSubject(subject.access_token),
      resource: READ_ONLY,
      scope: 'write',
    });
    expect(refused.json.error).toBe('invalid_scope');
    const narrowed = await exchange(exchanger, {
      ...asSubject(subject.access_token),
      resource: READ_ONLY,
    });
    expect(narrowed.status, narrowed.text).toBe(200);
    expect(narrowed.json.scope).toBe('read');
  });

  it('RFC 8693 §2.2.2: an audience outside the policy, an unregistered one, or two different targets are invalid_target', async () => {
    const subject = await userToken(exchanger);
    const base = { ...asSubject(subject.access_token) };
    const targets: Record<string, string>[] = [
      { resource: API_C },
      { audience: API_C },
      { audience: 'https://nowhere.example.com/' },
      { audience: 'api-b' },
      { resource: API_B, audience: JWT_API },
    ];
    for (const target of targets) {
      const res = await exchange(exchanger, { ...base, ...target });
      expect(res.status, JSON.stringify(target)).toBe(400);
      expect(res.json.error, JSON.stringify(target)).toBe('invalid_target');
    }
  });

  it('RFC 8693 §2.2.1: the exchanged token never outlives the subject token', async () => {
    const subject = await userToken(exchanger);
    const info = await introspect(subject.access_token);
    await server
      .cli()
      .sql.execute("update access_tokens set expires_at = now() + interval '30 seconds' where id = $1", [
        info.jti,
      ]);
    const res = await exchange(exchanger, {
      ...asSubject(subject.access_token),
      resource: API_B,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.expires_in).toBeLessThanOrEqual(30);
    const exchanged = await introspect(String(res.json.access_token));
    expect(Number(exchanged.exp)).toBeLessThanOrEqual(Number(info.exp));
  });
});

describe('inactive and foreign subject tokens (RFC 8693 §2.2.2)', () => {
  it('RFC 8693 §2.2.2: a revoked subject token yields no token (invalid_request)', async () => {
    const subject = await userToken(exchanger);
    const revoked = await postForm(server, '/o/revoke_token/', { token: subject.access_token }, exchanger);
    expect(revoked.status).toBe(200);
    const res = await exchange(exchanger, {
      ...asSubject(subject.access_token),
      resource: API_B,
    });
    refused(res, 'invalid_request');
    expect(res.json.access_token).toBeUndefined();
  });

  it("RFC 8693 §2.2.2: revoking the subject's grant revokes the exchanged token, and refuses further exchanges", async () => {
    const subject = await userToken(other);
    const subjectId = { id_token: await idToken(other) };
    const viaIdBefore = await exchange(other, {
      subject_token: subjectId.id_token,
      subject_token_type: IDT,
      resource: API_B,
    });
    expect(viaIdBefore.status, viaIdBefore.text).toBe(200);
    const res = await exchange(other, {
      ...asSubject(subject.access_token),
      resource: API_B,
    });
    expect(res.status, res.text).toBe(200);
    expect((await introspect(String(res.json.access_token))).active).toBe(true);
    const app = await server
      .cli()
      .sql.query<{ id: string }>('select id from applications where client_id = $1', [other.clientId]);
    expect(await revokeGrantFor(server.cli().sql, aliceId, app[0].id)).toBe(true);
    expect((await introspect(String(res.json.access_token))).active).toBe(false);
    expect((await introspect(String(viaIdBefore.json.access_token))).active).toBe(false);
    const again = await exchange(other, {
      ...asSubject(subject.access_token),
      resource: API_B,
    });
    expect(again.json.error).toBe('invalid_request');
    // The ID token outlives the grant as a JWT, but not as a subject.
    const viaIdToken = await exchange(other, {
      subject_token: String(subjectId.id_token),
      subject_token_type: IDT,
      resource: API_B,
    });
    expect(viaIdToken.json.error).toBe('invalid_request');
  });

  it('RFC 8693 §2.2.2: an expired subject token is invalid_request', async () => {
    const subject = await userToken(exchanger);
    const info = await introspect(subject.access_token);
    await server
      .cli()
      .sql.execute("update access_tokens set expires_at = now() - interval '1 second' where id = $1", [
        info.jti,
      ]);
    const res = await exchange(exchanger, {
      ...asSubject(subject.access_token),
      resource: API_B,
    });
    refused(res, 'invalid_request');
  });

  it("RFC 8693 §2.2.2: another application's token (not meant for the requester) is invalid_request", async () => {
    const foreign = await userToken(other);
    const res = await exchange(exchanger, {
      ...asSubject(foreign.access_token),
      resource: API_B,
    });
    refused(res, 'invalid_request');
    const foreignId = await idToken(other);
    const viaId = await exchange(exchanger, {
      subject_token: foreignId,
      subject_token_type: IDT,
      resource: API_B,
    });
    expect(viaId.json.error).toBe('invalid_request');
  });

  it("RFC 8693 §2.2.2: a client's own client_credentials token has no user to act for", async () => {
    const res = await exchange(exchanger, {
      ...asSubject(await clientToken(exchanger)),
      resource: API_B,
    });
    expect(res.json.error).toBe('invalid_request');
  });

  it('RFC 8693 §5: a public client is refused token exchange (unauthorized_client)', async () => {
    const res = await postForm(
      server,
      '/o/token/',
      { grant_type: TE, ...asSubject('x'), resource: API_B },
      publicClient,
    );
    refused(res, 'unauthorized_client');
  });

  it('RFC 8693 §2.1: an application without the grant type is unauthorized_client', async () => {
    const res = await exchange(machine, { ...asSubject('x'), resource: API_B });
    expect(res.json.error).toBe('unauthorized_client');
  });
});

describe('hostile input and concurrency (RFC 8693 §2.2.2, RFC 6749 §5.2)', () => {
  it('RFC 8693 §2.2.2: missing, oversized, malformed and mistyped tokens are invalid_request, never a 500', async () => {
    const subject = await userToken(exchanger);
    const cases: Record<string, string>[] = [
      { subject_token_type: AT, resource: API_B },
      { subject_token: subject.access_token, resource: API_B },
      { ...asSubject('x'.repeat(10_000)), resource: API_B },
      { subject_token: 'x'.repeat(10_000), subject_token_type: IDT, resource: API_B },
      { subject_token: 'a.b.c', subject_token_type: IDT, resource: API_B },
      { subject_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', subject_token_type: IDT, resource: API_B },
      {
        subject_token: subject.access_token,
        subject_token_type: 'urn:ietf:params:oauth:token-type:saml2',
        resource: API_B,
      },
      {
        ...asSubject(subject.access_token),
        ...asActor('\u00ff'.repeat(9000)),
        resource: API_B,
      },
    ];
    for (const form of cases) {
      const res = await exchange(exchanger, form);
      expect(res.status, JSON.stringify(form).slice(0, 120)).toBe(400);
      expect(res.json.error, JSON.stringify(form).slice(0, 120)).toBe('invalid_request');
    }
    const hostileTargets = await Promise.all(
      [`https://x.example/${'a'.repeat(5000)}`, 'javascript:alert(1)', `${API_B}#frag`, ' '].map((audience) =>
        exchange(exchanger, { ...asSubject(subject.access_token), audience }),
      ),
    );
    for (const r of hostileTargets) {
      expect(r.status).toBe(400);
      expect(['invalid_target', 'invalid_request']).toContain(r.json.error);
    }
    const badScope = await exchange(exchanger, {
      ...asSubject(subject.access_token),
      resource: API_B,
      scope: 'read "quoted"',
    });
    expect(badScope.json.error).toBe('invalid_scope');
  });

  it('RFC 8693 §2.1: parallel exchanges of one subject token all succeed, each with its own token', async () => {
    const subject = await userToken(exchanger);
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        exchange(exchanger, { ...asSubject(subject.access_token), resource: API_B }),
      ),
    );
    for (const r of results) expect(r.status, r.text).toBe(200);
    expect(new Set(results.map((r) => r.json.access_token)).size).toBe(20);
  });

  it('RFC 8693 §2.2.2: exchanges racing a revocation of the grant answer 200 or invalid_request, never a 500, and none after it', async () => {
    const subject = await userToken(delegator, 'bob');
    const actor = await clientToken(delegator);
    const form = {
      ...asSubject(subject.access_token),
      ...asActor(actor),
      resource: API_B,
    };
    const app = await server
      .cli()
      .sql.query<{ id: string }>('select id from applications where client_id = $1', [delegator.clientId]);
    const bob = await findUserByUsername(server.cli(), 'bob');
    const racing = Array.from({ length: 12 }, () => exchange(delegator, form));
    const revoked = revokeGrantFor(server.cli().sql, bob!.id, app[0].id);
    const results = await Promise.all(racing);
    await revoked;
    for (const r of results) {
      expect(r.status).toBeLessThan(500);
      if (r.status !== 200) expect(r.json.error).toBe('invalid_request');
    }
    const after = await exchange(delegator, form);
    expect(after.json.error).toBe('invalid_request');
  });
});

describe('records and interop', () => {
  it('RFC 8693 §2.1: each exchange is an audit event of the subject’s grant', async () => {
    const subject = await userToken(exchanger);
    const res = await exchange(exchanger, {
      ...asSubject(subject.access_token),
      resource: API_B,
    });
    expect(res.status).toBe(200);
    const page = await listAuditEvents(server.cli(), { first: 5 }, { action: 'token.exchange' });
    const latest = page.nodes[0];
    expect(latest.actorLabel).toBe(`client:${exchanger.clientId}`);
    expect(latest.targetType).toBe('grant');
    expect(latest.details).toMatchObject({
      clientId: exchanger.clientId,
      audience: API_B,
      subjectTokenType: 'access_token',
    });
  });

  it('RFC 8414 §2: grant_types_supported names the token exchange grant', async () => {
    const res = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    expect(((await res.json()) as { grant_types_supported: string[] }).grant_types_supported).toContain(TE);
  });

  it('RFC 8693 §2.1: openid-client’s genericGrantRequest exchanges a token at default strictness', async () => {
    const config = await oidc.discovery(
      new URL(server.url),
      exchanger.clientId,
      undefined,
      oidc.ClientSecretBasic(exchanger.clientSecret!),
      { execute: [oidc.allowInsecureRequests] },
    );
    const subject = await userToken(exchanger);
    const tokens = await oidc.genericGrantRequest(config, TE, {
      ...asSubject(subject.access_token),
      audience: API_B,
      scope: 'read',
    });
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.issued_token_type).toBe(AT);
    expect(tokens.scope).toBe('read');
  });
});
