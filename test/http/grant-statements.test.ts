import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import { authorize, makeClient, pkce, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let web: TestClient;
let cc: TestClient;
let alice: Agent;

beforeAll(async () => {
  server = await startTestServer();
  await createUser(server.cli(), { username: 'alice', password: 'alice-pass' });
  web = await makeClient(server, {
    grantTypes: ['authorization_code', 'refresh_token'],
    skipAuthorization: true,
    scopes: ['read', 'openid'],
  });
  cc = await makeClient(server, { grantTypes: ['client_credentials'], redirectUris: [], scopes: ['read'] });
  alice = new Agent(server.url);
  await alice.login('alice', 'alice-pass');
});
afterAll(() => server?.stop());

/** The SQL statements the server runs while answering one token request. */
async function statementsOf(form: Record<string, string>, client: TestClient) {
  const statements: string[] = [];
  const stop = server.runtime.db.observer.watch((s) => statements.push(s));
  const res = await postForm(server, '/o/token/', form, client);
  stop();
  return { res, statements };
}

async function code(): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkce();
  const { location } = await authorize(alice, {
    response_type: 'code',
    client_id: web.clientId,
    redirect_uri: web.redirectUri,
    scope: 'openid read',
    nonce: 'n-1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return { code: location.searchParams.get('code') ?? '', verifier };
}

describe('statement counts per grant (issue 14: the shared grant steps add no SQL)', () => {
  it('RFC 6749 §4.4: a client_credentials token is one INSERT (the client is cached)', async () => {
    await postForm(server, '/o/token/', { grant_type: 'client_credentials' }, cc); // warms the client cache
    const { res, statements } = await statementsOf({ grant_type: 'client_credentials' }, cc);
    expect(res.status, res.text).toBe(200);
    expect(statements, statements.join('\n')).toHaveLength(1);
    expect(statements[0]).toMatch(/insert into access_tokens/i);
  });

  it('RFC 6749 §4.1.3 + OIDC Core §3.1.3.3: redeeming a code for tokens and an id_token is one statement', async () => {
    const { code: value, verifier } = await code();
    const { res, statements } = await statementsOf(
      {
        grant_type: 'authorization_code',
        code: value,
        redirect_uri: web.redirectUri,
        code_verifier: verifier,
      },
      web,
    );
    expect(res.status, res.text).toBe(200);
    expect(typeof res.json.id_token).toBe('string');
    expect(typeof res.json.refresh_token).toBe('string');
    expect(statements, statements.join('\n')).toHaveLength(1);
  });

  it('RFC 6749 §6 + OAuth 2.1 §4.3.1: a refresh rotation with an id_token is one statement', async () => {
    const { code: value, verifier } = await code();
    const first = await postForm(
      server,
      '/o/token/',
      {
        grant_type: 'authorization_code',
        code: value,
        redirect_uri: web.redirectUri,
        code_verifier: verifier,
      },
      web,
    );
    const { res, statements } = await statementsOf(
      { grant_type: 'refresh_token', refresh_token: String(first.json.refresh_token) },
      web,
    );
    expect(res.status, res.text).toBe(200);
    expect(typeof res.json.id_token).toBe('string');
    expect(statements, statements.join('\n')).toHaveLength(1);
  });
});
