import { type TOTP, URI } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { codeOf, gql } from '../helpers/graphql.js';
import { Agent, decodeEntities, hiddenInputs } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Issue 18: MFA_REQUIRED=admins (enrollment right after the password, no session before it), the
 * TOTP secret encrypted at rest with KEY_ENCRYPTION_KEY, the admin warning, and GraphQL's view
 * of factors (self and admins only, never secrets) with the admin reset.
 */
let server: TestServer;
/** root's browser, signed in by the first test (after enrolling). */
const root = () => rootAgent;
let rootAgent: Agent;

beforeAll(async () => {
  server = await startTestServer({
    env: { MFA_REQUIRED: 'admins', KEY_ENCRYPTION_KEY: 'k'.repeat(40) },
  });
  await createUser(server.cli(), { username: 'root', password: 'root-password', isAdmin: true });
  await createUser(server.cli(), { username: 'dana', password: 'dana-password' });
});
afterAll(() => server?.stop());

async function enrollAtLogin(agent: Agent, username: string, password: string): Promise<TOTP> {
  const login = await agent.submitForm(
    `/accounts/login/?next=${encodeURIComponent('/o/applications/')}`,
    { username, password },
    '/accounts/login/',
  );
  expect(login.status).toBe(303);
  expect(login.location).toBe('/accounts/login/enroll/');
  expect((await agent.get('/')).status).toBe(303); // no session before enrolling
  const page = await agent.get('/accounts/login/enroll/');
  expect(page.text).toContain('Your account must have a second factor');
  expect(page.text).toContain('Add a passkey');
  const uri = decodeEntities(/id="otpauth-uri" type="text" readonly value="([^"]+)"/.exec(page.text)![1]);
  const totp = URI.parse(uri) as TOTP;
  const wrong = await agent.post('/accounts/login/enroll/totp/', {
    ...hiddenInputs(page.text, '/accounts/login/enroll/totp/'),
    code: totp.generate({ timestamp: Date.now() + 3_600_000 }),
  });
  expect(wrong.status).toBe(400);
  expect(wrong.text).toContain('That code is not right');
  expect((await agent.get('/')).status).toBe(303);
  const done = await agent.post('/accounts/login/enroll/totp/', {
    ...hiddenInputs(wrong.text, '/accounts/login/enroll/totp/'),
    code: totp.generate(),
  });
  expect(done.status).toBe(200);
  expect(done.text).toContain('Recovery codes');
  expect(done.text).toContain('href="/o/applications/"'); // the pending next survived
  return totp;
}

describe('MFA_REQUIRED=admins and KEY_ENCRYPTION_KEY', () => {
  it('an admin without a factor enrolls right after the password and gets a session only then (amr pwd+otp+mfa); the TOTP secret is stored encrypted', async () => {
    const agent = new Agent(server.url);
    rootAgent = agent;
    await enrollAtLogin(agent, 'root', 'root-password');
    expect((await agent.get('/')).status).toBe(200);
    const rows = await server.runtime.db.sql.query<{ secret: string; encrypted: boolean }>(
      `select f.secret, f.encrypted from user_factors f join users u on u.id = f.user_id where u.username = 'root'`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].encrypted).toBe(true);
    expect(rows[0].secret).toMatch(/^v1\./);
    const sessions = await server.runtime.db.sql.query<{ amr: string[] }>(
      `select s.amr from sessions s join users u on u.id = s.user_id where u.username = 'root'`,
    );
    expect(sessions.map((s) => s.amr)).toEqual([['pwd', 'otp', 'mfa']]);
    // The covered admin cannot remove the only factor.
    const security = await agent.get('/accounts/security/');
    const action = /action="(\/accounts\/security\/factors\/[^"]+\/remove\/)"/.exec(security.text)![1];
    const refused = await agent.post(action, hiddenInputs(security.text, action));
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('must have a second factor');
  });

  it('a user the policy does not cover logs in with the password alone', async () => {
    const agent = new Agent(server.url);
    const res = await agent.login('dana', 'dana-password');
    expect(res.location).toBe('/');
  });

  it('GraphQL: the user sees their own factors (no secret field exists); an admin sees anyone’s and resets them (audited); a non-admin cannot reset', async () => {
    const dana = new Agent(server.url);
    await dana.login('dana', 'dana-password');
    const page = await dana.get('/accounts/security/totp/');
    const uri = decodeEntities(/id="otpauth-uri" type="text" readonly value="([^"]+)"/.exec(page.text)![1]);
    await dana.post('/accounts/security/totp/', {
      ...hiddenInputs(page.text, '/accounts/security/totp/'),
      code: (URI.parse(uri) as TOTP).generate(),
    });
    const danaAuth = { cookie: dana.cookieHeader() };
    const own = await gql(
      server,
      danaAuth,
      '{ viewer { id factors { id kind name createdAt lastUsedAt } } }',
    );
    const viewer = own.data?.viewer as { id: string; factors: { kind: string; name: string }[] };
    expect(viewer.factors).toEqual([expect.objectContaining({ kind: 'TOTP', name: 'Authenticator app' })]);
    const secretField = await gql(server, danaAuth, '{ viewer { factors { secret } } }');
    expect(codeOf(secretField)).toBe('GRAPHQL_VALIDATION_FAILED');
    const notAdmin = await gql(server, danaAuth, 'mutation($id: ID!) { resetUserFactors(userId: $id) }', {
      id: viewer.id,
    });
    expect(codeOf(notAdmin)).toBe('FORBIDDEN');

    const rootAuth = { cookie: root().cookieHeader() };
    const listed = await gql(
      server,
      rootAuth,
      '{ users(filter: { username: "dana" }) { edges { node { factors { kind } } } } }',
    );
    expect(JSON.stringify(listed.data)).toContain('"kind":"TOTP"');
    const reset = await gql(server, rootAuth, 'mutation($id: ID!) { resetUserFactors(userId: $id) }', {
      id: viewer.id,
    });
    expect(reset.data?.resetUserFactors).toBe(1);
    const after = await gql(server, danaAuth, '{ viewer { factors { id } } }');
    expect(after.data?.viewer).toEqual({ factors: [] });
    const audit = await server.runtime.db.sql.query<{ action: string }>(
      `select action from audit_events where action = 'user.factors.reset' and target_id = $1`,
      [viewer.id],
    );
    expect(audit).toHaveLength(1);
    // Without a factor dana's next login is the password alone again.
    expect((await new Agent(server.url).login('dana', 'dana-password')).location).toBe('/');
  });
});
