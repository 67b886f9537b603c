import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  await createUser(server.cli(), { username: 'alice', password: 'alice-pass', email: 'alice@example.com' });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('login in Chromium', () => {
  it('a wrong password shows the message; the right one lands on the home page; logout ends the session', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });

    await page.goto(`${server.url}/`);
    expect(new URL(page.url()).pathname).toBe('/accounts/login/');
    await screenshot(page, 'login');

    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('not-her-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('Please enter a correct username and password.');
    await screenshot(page, 'login-error');

    await page.getByLabel('Password').fill('alice-pass');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${server.url}/`);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Welcome, alice');
    await screenshot(page, 'home');

    // The page is styled by the self-hosted stylesheet (no CDN).
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe('rgb(245, 246, 248)');

    await page.getByRole('link', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${server.url}/accounts/login/`);
    await page.goto(`${server.url}/`);
    expect(new URL(page.url()).pathname).toBe('/accounts/login/');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('is readable on a phone-sized screen', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 700 }, deviceScaleFactor: 2 });
    const page = await context.newPage();
    await page.goto(`${server.url}/accounts/login/`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    expect(overflow).toBe(false);
    await screenshot(page, 'login-phone');
    await context.close();
  });
});
