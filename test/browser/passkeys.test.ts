import { TOTP, URI } from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Issue 18 in Chromium: TOTP enrollment and passkeys (WebAuthn L2 §7) with a CDP virtual
 * authenticator — register, second factor, passwordless, bad answers, removal — with a
 * screenshot of every new page. The issuer is on `localhost`: Chromium refuses WebAuthn on an
 * IP-address origin.
 */
/** The UMD global of @simplewebauthn/browser, as the page's script sees it. */
type UmdGlobal = {
  SimpleWebAuthnBrowser: { startAuthentication(o: { optionsJSON: unknown }): Promise<unknown> };
};

let server: TestServer;
let browser: Browser;
let base: string;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer({ issuerHost: 'localhost' }), launchBrowser()]);
  base = server.runtime.config.issuer;
  await createUser(server.cli(), { username: 'pat', password: 'pat-password' });
  await createUser(server.cli(), { username: 'quinn', password: 'quinn-password' });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** Adds a virtual authenticator (a second one models a second device: one holds one credential per account). */
async function withAuthenticator(page: Page, transport: 'internal' | 'usb' = 'internal'): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport,
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
}

async function passwordLogin(page: Page, username: string, password: string): Promise<void> {
  await page.goto(`${base}/accounts/login/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForLoadState();
}

async function logout(page: Page): Promise<void> {
  await page.goto(`${base}/accounts/logout/`);
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${base}/accounts/login/`);
}

/** Enrolls TOTP through the page: the code is computed from the otpauth URI the page shows. */
async function enrollTotp(page: Page, shot?: string): Promise<TOTP> {
  await page.goto(`${base}/accounts/security/totp/`);
  const uri = await page.locator('#otpauth-uri').inputValue();
  const totp = URI.parse(uri) as TOTP;
  const loaded = await page
    .locator('img.qr')
    .evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0);
  expect(loaded).toBe(true);
  if (shot) await screenshot(page, shot);
  await page.getByLabel('Code from the app').fill(totp.generate());
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Recovery codes');
  return totp;
}

describe('passkeys and TOTP in Chromium (WebAuthn L2 §7, RFC 6238)', () => {
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    context = await browser.newContext();
    page = await context.newPage();
    page.on('console', (m) => {
      // The refused answers below are 400 pages by design; anything else is a script error.
      if (m.type() === 'error' && !m.text().includes('status of 400')) errors.push(m.text());
    });
    page.on('dialog', (d) => void d.accept());
    await withAuthenticator(page);
  });
  afterAll(() => context?.close());

  it('RFC 6238: the security page enrolls an authenticator app from its QR code / otpauth URI and shows the recovery codes once', async () => {
    await passwordLogin(page, 'pat', 'pat-password');
    await page.goto(`${base}/accounts/security/`);
    await screenshot(page, 'security-empty');
    await enrollTotp(page, 'security-totp');
    expect(await page.locator('#recovery-codes li').count()).toBe(10);
    await screenshot(page, 'security-recovery-codes');
    await page.getByRole('link', { name: 'I saved them, continue' }).click();
    await expect
      .poll(() => page.getByRole('status').first().textContent())
      .toContain('Authenticator app added');
  });

  it('WebAuthn L2 §7.1: two named passkeys are registered through the virtual authenticator (discoverable credentials)', async () => {
    await page.goto(`${base}/accounts/security/`);
    await page.getByLabel('Passkey name').fill('Laptop key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForURL(`${base}/accounts/security/?done=passkey`);
    // The first authenticator is excluded now (WebAuthn L2 §5.4 excludeCredentials): a second device.
    await withAuthenticator(page, 'usb');
    await page.goto(`${base}/accounts/security/`);
    await page.getByLabel('Passkey name').fill('Second key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForURL(`${base}/accounts/security/?done=passkey`);
    const table = await page.locator('table').first().textContent();
    expect(table).toContain('Laptop key');
    expect(table).toContain('Second key');
    expect(table).toContain('Authenticator app');
    await screenshot(page, 'security-factors');
  });

  it('WebAuthn L2 §7.2: a passkey is the second factor after the password', async () => {
    await logout(page);
    await passwordLogin(page, 'pat', 'pat-password');
    await page.waitForURL(`${base}/accounts/login/verify/`);
    await expect.poll(() => page.getByRole('button', { name: 'Use a passkey' }).isVisible()).toBe(true);
    await screenshot(page, 'login-verify');
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.waitForURL(`${base}/`);
    await page.goto(`${base}/accounts/security/`);
    expect(await page.locator('table').last().textContent()).toMatch(/password \+ (security key|passkey)/);
  });

  it('WebAuthn L2 §7.2: a discoverable passkey signs in alone from the login page (passwordless, user verified)', async () => {
    await logout(page);
    await page.goto(`${base}/accounts/login/`);
    await expect
      .poll(() => page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible())
      .toBe(true);
    await screenshot(page, 'login-with-passkey');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL(`${base}/`);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Welcome, pat');
  });

  it('WebAuthn L2 §7.2 steps 11–12 and §13.4.3: a tampered clientDataJSON, a replayed (used) challenge and another user’s passkey are readable refusals; nothing changes', async () => {
    await logout(page);
    await passwordLogin(page, 'pat', 'pat-password');
    await page.waitForURL(`${base}/accounts/login/verify/`);
    // Get a real assertion from the authenticator, then tamper with its client data.
    const answer = await page.evaluate(async () => {
      const form = document.querySelector('form[data-passkey-form]') as HTMLFormElement;
      const body = new URLSearchParams({
        csrf_token: (form.elements.namedItem('csrf_token') as HTMLInputElement).value,
      });
      const options = await (
        await fetch('/accounts/webauthn/second-factor/', { method: 'POST', body })
      ).json();
      return JSON.stringify(
        await (window as unknown as UmdGlobal).SimpleWebAuthnBrowser.startAuthentication({
          optionsJSON: options,
        }),
      );
    });
    const parsed = JSON.parse(answer);
    const data = JSON.parse(Buffer.from(parsed.response.clientDataJSON, 'base64url').toString());
    const tampered = {
      ...parsed,
      response: {
        ...parsed.response,
        clientDataJSON: Buffer.from(JSON.stringify({ ...data, origin: 'https://evil.example' })).toString(
          'base64url',
        ),
      },
    };
    const submit = async (credential: string) => {
      // Wait for the answer's own page: waitForLoadState alone can return at once on the page
      // still showing the previous answer's message.
      const loaded = page.waitForEvent('load');
      await page.evaluate((value) => {
        const form = document.querySelector('form[data-passkey-form]') as HTMLFormElement;
        (form.elements.namedItem('credential') as HTMLInputElement).value = value;
        form.submit();
      }, credential);
      await loaded;
      return page.getByRole('alert').first().textContent();
    };
    expect(await submit(JSON.stringify(tampered))).toContain('could not be verified');
    await screenshot(page, 'login-verify-error');
    // The challenge went with the tampered answer: the genuine one now finds it used.
    expect(await submit(answer)).toContain('expired or was already used');
    expect(await submit('{"not":"a credential"}')).toContain('could not be read');
    expect(new URL(page.url()).pathname).toBe('/accounts/login/verify/');

    // quinn (TOTP only) is offered pat's discoverable passkey: refused for quinn's login.
    await page.goto(`${base}/accounts/login/`);
    await passwordLogin(page, 'quinn', 'quinn-password');
    await enrollQuinn();
    await logout(page);
    await passwordLogin(page, 'quinn', 'quinn-password');
    await page.waitForURL(`${base}/accounts/login/verify/`);
    await page.addScriptTag({ url: '/static/vendor/simplewebauthn-browser.js' });
    const foreign = await page.evaluate(async () => {
      const form = document.querySelector('form') as HTMLFormElement;
      const body = new URLSearchParams({
        csrf_token: (form.elements.namedItem('csrf_token') as HTMLInputElement).value,
      });
      // quinn has no passkey: the authenticator answers with pat's discoverable one.
      const options = await (
        await fetch('/accounts/webauthn/second-factor/', { method: 'POST', body })
      ).json();
      const lib = (window as unknown as UmdGlobal).SimpleWebAuthnBrowser;
      return JSON.stringify(await lib.startAuthentication({ optionsJSON: options }));
    });
    const res = await page.evaluate(async (credential) => {
      const form = document.querySelector('form') as HTMLFormElement;
      const body = new URLSearchParams({
        csrf_token: (form.elements.namedItem('csrf_token') as HTMLInputElement).value,
        method: 'passkey',
        credential,
      });
      const r = await fetch('/accounts/login/verify/', { method: 'POST', body, redirect: 'manual' });
      return { status: r.status, text: await r.text() };
    }, foreign);
    expect(res.status).toBe(400);
    expect(res.text).toContain('This passkey is not registered for this account.');
    expect(errors).toEqual([]);
  });

  async function enrollQuinn() {
    await enrollTotp(page);
  }

  it('WebAuthn: a passkey is removed from the security page and no longer signs in', async () => {
    await page.goto(`${base}/accounts/login/`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL(`${base}/`);
    await page.goto(`${base}/accounts/security/`);
    await page.getByRole('button', { name: 'Remove Laptop key' }).click();
    await page.waitForURL(`${base}/accounts/security/?done=removed`);
    await page.goto(`${base}/accounts/security/`);
    await page.getByRole('button', { name: 'Remove Second key' }).click();
    await page.waitForURL(`${base}/accounts/security/?done=removed`);
    const table = await page.locator('table').first().textContent();
    expect(table).not.toContain('Laptop key');
    expect(table).toContain('Authenticator app');
    await logout(page);
    await page.goto(`${base}/accounts/login/`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('not registered');
    expect(new URL(page.url()).pathname).toBe('/accounts/login/passkey/');
  });
});
