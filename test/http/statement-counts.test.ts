import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplicationInput } from '../../src/services/applications.js';
import { startSession } from '../../src/services/sessions.js';
import { createUser } from '../../src/services/users.js';
import { cookieName } from '../../src/web/cookies.js';
import { Agent } from '../helpers/http.js';
import { authorizePath, makeClient, pkce, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { withStatements } from '../helpers/statements.js';

/**
 * The protocol hot paths are one SQL statement each (issue 14, "must not regress"): the statement is
 * the decision, and there is no second round trip to race with. Client-cache loads are not
 * counted (the cache's, not the operation's); each client is used once before measuring.
 */

let server: TestServer;
let machine: TestClient;
let web: TestClient;
let jwtWeb: TestClient;
let agent: Agent;

beforeAll(async () => {
  server = await startTestServer();
  machine = await makeClient(server, {
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scopes: ['read'],
  });
  const app: Partial<ApplicationInput> = {
    scopes: ['read'],
    skipAuthorization: true,
    grantTypes: ['authorization_code', 'refresh_token'],
  };
  web = await makeClient(server, app);
  jwtWeb = await makeClient(server, { ...app, accessTokenFormat: 'jwt' });
  const user = await createUser(server.cli(), { username: 'counted', password: 'counted-password' });
  const { cookieValue } = await startSession(server.cli(), user.id);
  agent = new Agent(server.url);
  agent.cookies.set(cookieName(server.runtime.config, 'session'), cookieValue);
});
afterAll(() => server?.stop());

async function code(client: TestClient): Promise<{ code: string; verifier: string; statements: string[] }> {
  const { verifier, challenge } = pkce();
  const path = authorizePath({
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    scope: 'read',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const { result, statements } = await withStatements(server, () => agent.get(path));
  const value = new URL(result.location!, server.url).searchParams.get('code');
  if (!value) throw new Error(`no code: ${result.status} ${result.text.slice(0, 200)}`);
  return { code: value, verifier, statements };
}

const redeem = (client: TestClient, c: { code: string; verifier: string }) =>
  postForm(
    server,
    '/o/token/',
    {
      grant_type: 'authorization_code',
      code: c.code,
      redirect_uri: client.redirectUri,
      code_verifier: c.verifier,
    },
    client,
  );

describe('Issue 14: one statement per protocol operation', () => {
  it('RFC 6749 §4.4: a client_credentials token is one statement (the batched INSERT)', async () => {
    const form = { grant_type: 'client_credentials', scope: 'read' };
    await postForm(server, '/o/token/', form, machine);
    const { result, statements } = await withStatements(server, () =>
      postForm(server, '/o/token/', form, machine),
    );
    expect(result.status).toBe(200);
    expect(statements, statements.join('\n---\n')).toHaveLength(1);
    expect(statements[0]).toMatch(/insert into access_tokens/);
  });

  it('RFC 6749 §4.1.1: the fast path answers an authorization request with one statement', async () => {
    await code(web);
    const { statements } = await code(web);
    expect(statements, statements.join('\n---\n')).toHaveLength(1);
    expect(statements[0]).toMatch(/insert into authorization_codes/);
  });

  it('RFC 6749 §4.1.3: redeeming a code is one statement (opaque access tokens)', async () => {
    await redeem(web, await code(web));
    const c = await code(web);
    const { result, statements } = await withStatements(server, () => redeem(web, c));
    expect(result.status, result.text).toBe(200);
    expect(statements, statements.join('\n---\n')).toHaveLength(1);
  });

  it('RFC 9068: a JWT access token needs its subject before signing: one read of the code, then the same one-statement redemption', async () => {
    await redeem(jwtWeb, await code(jwtWeb));
    const c = await code(jwtWeb);
    const { result, statements } = await withStatements(server, () => redeem(jwtWeb, c));
    expect(result.status, result.text).toBe(200);
    expect(statements, statements.join('\n---\n')).toHaveLength(2);
  });

  it('OAuth 2.1 §4.3.1: rotating a refresh token is one statement', async () => {
    const first = await redeem(web, await code(web));
    const warm = await postForm(
      server,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: first.json.refresh_token as string },
      web,
    );
    expect(warm.status, warm.text).toBe(200);
    const { result, statements } = await withStatements(server, () =>
      postForm(
        server,
        '/o/token/',
        { grant_type: 'refresh_token', refresh_token: warm.json.refresh_token as string },
        web,
      ),
    );
    expect(result.status, result.text).toBe(200);
    expect(statements, statements.join('\n---\n')).toHaveLength(1);
  });
});
