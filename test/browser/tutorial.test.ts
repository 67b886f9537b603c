import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { startCallbackServer } from '../helpers/callback.js';
import { pkce, postForm } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;
let client: Awaited<ReturnType<typeof startCallbackServer>>;

beforeAll(async () => {
  [server, browser, client] = await Promise.all([startTestServer(), launchBrowser(), startCallbackServer()]);
  await createUser(server.cli(), { username: 'alice', password: 'alice-pass', email: 'alice@example.com' });
});
afterAll(async () => {
  await browser?.close();
  await client?.close();
  await server?.stop();
});

/** fetch() POST to the token endpoint from a page on another origin; null when the browser refuses (CORS). */
async function crossOriginRefresh(page: Page, tokenUrl: string, basic: string, refreshToken: string) {
  return page.evaluate(
    async ({ tokenUrl, basic, refreshToken }) => {
      try {
        const res = await fetch(tokenUrl, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
        });
        return { status: res.status, body: (await res.json()) as Record<string, string> };
      } catch {
        return null;
      }
    },
    { tokenUrl, basic, refreshToken },
  );
}

describe('the seed tutorial, end to end in Chromium', () => {
  it('log in, register an application, authorize it, exchange and refresh, call the token endpoint cross-origin, revoke', async () => {
    const context = await browser.newContext();
    context.on('dialog', (d) => d.accept());
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // 1. log in
    await page.goto(`${server.url}/accounts/login/`);
    await screenshot(page, 'tutorial-1-login');
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice-pass');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${server.url}/`);
    await screenshot(page, 'tutorial-1-home');

    // 2. register a confidential application with the authorization-code grant
    await page.getByRole('link', { name: 'Applications', exact: true }).click();
    await page.getByRole('link', { name: 'Register an application' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Tutorial App');
    await page.getByLabel('Redirect URIs', { exact: true }).fill(client.url);
    await screenshot(page, 'tutorial-2-register');
    await page.getByRole('button', { name: 'Register application' }).click();
    await page.getByText('Copy the client secret now.').waitFor();
    await screenshot(page, 'tutorial-2-detail-with-secret');
    const clientId = await page.locator('#client-id').inputValue();
    const clientSecret = await page.locator('#client-secret').inputValue();
    expect(clientSecret).toMatch(/^lk_cs_/);
    const appId = /\/o\/applications\/([0-9a-f-]{36})\//.exec(
      (await page.getByRole('link', { name: 'Edit' }).getAttribute('href')) ?? '',
    )![1];

    // 3. open the authorization URL, see the consent page, click Allow
    const { verifier, challenge } = pkce();
    const authorize = new URL('/o/authorize/', server.url);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: client.url,
      scope: 'read write',
      state: 'tutorial',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    await page.goto(authorize.href);
    await page.getByRole('heading', { name: 'Authorize Tutorial App' }).waitFor();
    await screenshot(page, 'tutorial-3-consent');
    await page.getByRole('button', { name: 'Allow' }).click();

    // 4. land on the redirect URI with a code
    await page.waitForURL((url) => url.href.startsWith(client.url));
    await screenshot(page, 'tutorial-4-callback');
    const landed = new URL(page.url());
    expect(landed.searchParams.get('state')).toBe('tutorial');
    const code = landed.searchParams.get('code')!;

    // 5. exchange the code with an HTTP POST
    const creds = { clientId, clientSecret };
    const tokens = await postForm(
      server,
      '/o/token/',
      { grant_type: 'authorization_code', code, redirect_uri: client.url, code_verifier: verifier },
      creds,
    );
    expect(tokens.status).toBe(200);

    // 6. refresh
    const refreshed = await postForm(
      server,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: tokens.json.refresh_token as string },
      creds,
    );
    expect(refreshed.status).toBe(200);
    let refreshToken = refreshed.json.refresh_token as string;

    // 7. cross-origin: refused before the origin is allowed, accepted after
    const spaOrigin = new URL(client.url).origin;
    const spa = await context.newPage();
    await spa.goto(`${spaOrigin}/spa`);
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
    const tokenUrl = `${server.url}/o/token/`;
    expect(await crossOriginRefresh(spa, tokenUrl, basic, refreshToken)).toBeNull();

    await page.goto(`${server.url}/o/applications/${appId}/update/`);
    await page.getByLabel('Allowed origins (CORS)').fill(spaOrigin);
    await screenshot(page, 'tutorial-7-edit');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForURL(`${server.url}/o/applications/${appId}/`);
    expect(await page.getByText(spaOrigin).first().isVisible()).toBe(true);

    const accepted = await crossOriginRefresh(spa, tokenUrl, basic, refreshToken);
    expect(accepted?.status).toBe(200);
    expect(accepted?.body.token_type).toBe('Bearer');
    refreshToken = accepted!.body.refresh_token;

    // 8. the user revokes the application; the refresh token stops working
    await page.goto(`${server.url}/o/authorized_tokens/`);
    await page.getByText('Tutorial App').waitFor();
    await screenshot(page, 'tutorial-8-authorized-tokens');
    await page.getByRole('button', { name: 'Revoke Tutorial App' }).click();
    await page.waitForURL(`${server.url}/o/authorized_tokens/?revoked=1`);
    expect(await page.getByText('You have not authorized any application.').isVisible()).toBe(true);
    const dead = await postForm(
      server,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      creds,
    );
    expect(dead.json.error).toBe('invalid_grant');

    expect(pageErrors).toEqual([]);
    await context.close();
  });
});
