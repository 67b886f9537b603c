import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { makeClient, postForm } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([
    startTestServer({ env: { DEVICE_CODE_INTERVAL: '1' } }),
    launchBrowser(),
  ]);
  await createUser(server.cli(), { username: 'alice', password: 'alice-pass' });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('device verification page in Chromium', () => {
  it('RFC 8628 §3.3: the user types the code (any case, no dash), approves, and the polling device gets its tokens', async () => {
    const tv = await makeClient(server, {
      name: 'Kitchen Radio',
      clientType: 'public',
      grantTypes: [GRANT],
      redirectUris: [],
      scopes: ['read'],
    });
    const started = await postForm(server, '/o/device_authorization/', { scope: 'read' }, tv);
    const userCode = started.json.user_code as string;

    const page = await (await browser.newContext()).newPage();
    await page.goto(started.json.verification_uri as string);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice-pass');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Connect a device' }).waitFor();
    await page.getByLabel('Code').fill(userCode.replace('-', '').toLowerCase());
    await screenshot(page, 'device-enter');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Connect Kitchen Radio?' }).waitFor();
    await screenshot(page, 'device-consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Device connected' }).waitFor();

    await new Promise((r) => setTimeout(r, 1100));
    const tokens = await postForm(
      server,
      '/o/token/',
      { grant_type: GRANT, device_code: started.json.device_code as string },
      tv,
    );
    expect(tokens.status).toBe(200);
    expect(tokens.json.access_token).toBeTruthy();
  });
});
