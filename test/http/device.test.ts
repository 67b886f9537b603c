import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent, hiddenInputs } from '../helpers/http.js';
import { makeClient, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
let server: TestServer;
let tv: TestClient;
let alice: Agent;

beforeAll(async () => {
  server = await startTestServer({ env: { DEVICE_CODE_INTERVAL: '1' } });
  await createUser(server.cli(), { username: 'alice', password: 'alice-pass' });
  tv = await makeClient(server, {
    name: 'Living Room TV',
    clientType: 'public',
    grantTypes: [GRANT, 'refresh_token'],
    redirectUris: [],
    scopes: ['read', 'openid'],
  });
  alice = new Agent(server.url);
  await alice.login('alice', 'alice-pass');
});
afterAll(() => server?.stop());

const start = (client: TestClient = tv, scope = 'read openid') =>
  postForm(server, '/o/device_authorization/', { scope }, client);
const poll = (deviceCode: string, client: TestClient = tv) =>
  postForm(server, '/o/token/', { grant_type: GRANT, device_code: deviceCode }, client);
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The user's side: type the code on /o/device/ and decide. */
async function decide(agent: Agent, typed: string, allow: boolean) {
  const page = await agent.submitForm('/o/device/', { user_code: typed }, '/o/device/');
  expect(page.status).toBe(200);
  const hidden = hiddenInputs(page.text, '/o/device/confirm/');
  return agent.post('/o/device/confirm/', { ...hidden, ...(allow ? { allow: 'Allow' } : {}) });
}

describe('RFC 8628 device authorization grant', () => {
  it('§3.2: the device authorization response has device_code, a short user_code, the verification URIs, expires_in and interval', async () => {
    const res = await start();
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.json.device_code).toMatch(/^lk_dc_/);
    expect(res.json.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(res.json.verification_uri).toBe(`${server.runtime.config.issuer}/o/device/`);
    expect(res.json.verification_uri_complete).toBe(
      `${server.runtime.config.issuer}/o/device/?user_code=${res.json.user_code}`,
    );
    expect(res.json.expires_in).toBe(600);
    expect(res.json.interval).toBe(1);
    const dump = JSON.stringify(await server.runtime.db.sql.query('select * from device_codes'));
    expect(dump).not.toContain((res.json.device_code as string).slice(6));
  });

  it('§3.1: only applications with the device_code grant may start it; discovery advertises it', async () => {
    const other = await makeClient(server, { clientType: 'public' });
    const res = await start(other, 'read');
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('unauthorized_client');
    const doc = await (await fetch(new URL('/.well-known/openid-configuration', server.url))).json();
    expect(doc.device_authorization_endpoint).toBe(`${server.runtime.config.issuer}/o/device_authorization/`);
    expect(doc.grant_types_supported).toContain(GRANT);
  });

  it('§3.5: authorization_pending, then slow_down when polling faster than the interval, then tokens once approved (single use)', async () => {
    const { json } = await start();
    const deviceCode = json.device_code as string;
    expect((await poll(deviceCode)).json.error).toBe('authorization_pending');
    const tooFast = await poll(deviceCode);
    expect(tooFast.status).toBe(400);
    expect(tooFast.json.error).toBe('slow_down');
    // The interval grew by 5 s: waiting the original interval is still too fast.
    await wait(1100);
    expect((await poll(deviceCode)).json.error).toBe('slow_down');

    const typed = (json.user_code as string).toLowerCase().replace('-', ' ');
    const decided = await decide(alice, typed, true);
    expect(decided.text).toContain('Device connected');
    await server.runtime.db.sql.execute('update device_codes set last_polled_at = null');
    const tokens = await poll(deviceCode);
    expect(tokens.status).toBe(200);
    expect(tokens.json.access_token).toMatch(/^lk_at_/);
    expect(tokens.json.refresh_token).toMatch(/^lk_rt_/);
    expect(tokens.json.id_token).toBeTruthy();
    expect(tokens.json.scope).toBe('read openid');
    await server.runtime.db.sql.execute('update device_codes set last_polled_at = null');
    const again = await poll(deviceCode);
    expect(again.json.error).toBe('invalid_grant');
    // The device's tokens belong to a grant the user sees and can revoke.
    expect((await alice.get('/o/authorized_tokens/')).text).toContain('Living Room TV');
  });

  it('§3.5: access_denied when the user denies; expired_token once the code expired', async () => {
    const denied = await start();
    await decide(alice, denied.json.user_code as string, false);
    expect((await poll(denied.json.device_code as string)).json.error).toBe('access_denied');

    const expired = await start();
    await server.runtime.db.sql.execute(
      "update device_codes set expires_at = now() - interval '1 second' where status = 'pending'",
    );
    expect((await poll(expired.json.device_code as string)).json.error).toBe('expired_token');
  });

  it('a device code belongs to its client', async () => {
    const { json } = await start();
    const other = await makeClient(server, {
      clientType: 'public',
      grantTypes: [GRANT],
      redirectUris: [],
      scopes: ['read', 'openid'],
    });
    expect((await poll(json.device_code as string, other)).json.error).toBe('invalid_grant');
  });
});

describe('/o/device/ verification page', () => {
  it('asks for a login first, and prefills the code from verification_uri_complete', async () => {
    const { json } = await start();
    const anonymous = await new Agent(server.url).get(`/o/device/?user_code=${json.user_code}`);
    expect(anonymous.status).toBe(303);
    const page = await alice.get(`/o/device/?user_code=${json.user_code}`);
    expect(page.text).toContain(`value="${json.user_code}"`);
  });

  it('shows the application and the scopes before approving', async () => {
    const { json } = await start();
    const page = await alice.submitForm('/o/device/', { user_code: json.user_code as string }, '/o/device/');
    expect(page.text).toContain('Connect Living Room TV?');
    expect(page.text).toContain('Read your data');
    expect(page.text).toMatch(/name="allow" value="Allow"/);
  });

  it('a wrong code says nothing about other codes, and wrong codes are limited (429)', async () => {
    const bob = new Agent(server.url);
    await createUser(server.cli(), { username: 'bob', password: 'bob-password' });
    await bob.login('bob', 'bob-password');
    const wrong = await bob.submitForm('/o/device/', { user_code: 'BBBB-BBBB' }, '/o/device/');
    expect(wrong.status).toBe(400);
    expect(wrong.text).toContain('That code is not valid or has expired.');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push(
        (await bob.submitForm('/o/device/', { user_code: `CCCC-CCC${'BCDFGHJKLM'[i]}` }, '/o/device/'))
          .status,
      );
    expect(statuses.at(-1)).toBe(429);
    // Even a valid code is refused while blocked.
    const { json } = await start();
    const blocked = await bob.submitForm('/o/device/', { user_code: json.user_code as string }, '/o/device/');
    expect(blocked.status).toBe(429);
    expect(blocked.text).toContain('Too many wrong codes.');
  });

  it('a code approved once cannot be approved again', async () => {
    const { json } = await start();
    await decide(alice, json.user_code as string, true);
    const again = await alice.submitForm('/o/device/', { user_code: json.user_code as string }, '/o/device/');
    expect(again.status).toBe(400);
  });
});
