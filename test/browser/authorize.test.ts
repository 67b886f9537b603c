import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { startCallbackServer } from '../helpers/callback.js';
import { pkce, postForm } from '../helpers/oauth.js';
import { runCli } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;
let callback: Awaited<ReturnType<typeof startCallbackServer>>;

beforeAll(async () => {
  [server, browser, callback] = await Promise.all([
    startTestServer(),
    launchBrowser(),
    startCallbackServer(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await callback?.close();
  await server?.stop();
});

describe('the seed tutorial: authorization code flow in Chromium', () => {
  it('RFC 6749 §4.1: a user logs in, approves a CLI-registered application on the consent page, the code is exchanged and the token refreshed', async () => {
    const env = { DATABASE_URL: server.database!.url };
    expect((await runCli(['create-user', '--username', 'alice', '--password', 'alice-pass'], env)).code).toBe(
      0,
    );
    const created = await runCli(
      [
        'create-application',
        '--owner',
        'alice',
        '--name',
        'Tutorial Client',
        '--client-type',
        'confidential',
        '--grant-types',
        'authorization_code,refresh_token',
        '--redirect-uris',
        callback.url,
      ],
      env,
    );
    expect(created.code).toBe(0);
    const client = JSON.parse(created.stdout) as { client_id: string; client_secret: string };

    const { verifier, challenge } = pkce();
    const authorizeUrl = new URL('/o/authorize/', server.url);
    authorizeUrl.search = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: callback.url,
      scope: 'read write',
      state: 'tutorial-state',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();

    const page = await (await browser.newContext()).newPage();
    await page.goto(authorizeUrl.href);
    expect(new URL(page.url()).pathname).toBe('/accounts/login/');
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice-pass');
    await page.getByRole('button', { name: 'Log in' }).click();

    await page.getByRole('heading', { name: 'Authorize Tutorial Client' }).waitFor();
    expect(await page.getByText('Read your data').isVisible()).toBe(true);
    expect(await page.getByText('Change your data').isVisible()).toBe(true);
    await screenshot(page, 'consent');
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.waitForURL((url) => url.href.startsWith(callback.url));
    expect(await page.locator('#code').textContent()).toBe('code received');
    const landed = callback.received.filter((u) => u.pathname === '/cb').at(-1)!;
    expect(landed.searchParams.get('state')).toBe('tutorial-state');
    expect(landed.searchParams.get('iss')).toBe(server.runtime.config.issuer);
    const code = landed.searchParams.get('code')!;

    const creds = { clientId: client.client_id, clientSecret: client.client_secret };
    const tokens = await postForm(
      server,
      '/o/token/',
      { grant_type: 'authorization_code', code, redirect_uri: callback.url, code_verifier: verifier },
      creds,
    );
    expect(tokens.status).toBe(200);
    expect(tokens.json.scope).toBe('read write');
    const refreshed = await postForm(
      server,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: tokens.json.refresh_token as string },
      creds,
    );
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.access_token).not.toBe(tokens.json.access_token);
  });
});
