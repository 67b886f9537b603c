import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  await createUser(server.cli(), { username: 'alice', password: 'alice-pass' });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** Logs alice in through the login page and waits for the playground to render. */
async function openPlayground(page: Page): Promise<void> {
  await page.goto(`${server.url}/accounts/login/?next=/graphql`);
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('alice-pass');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${server.url}/graphql`);
  await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });
}

describe('GraphQL playground', () => {
  it('loads without any network access beyond the server and runs a viewer query with the session', async () => {
    const context = await browser.newContext();
    const foreign: string[] = [];
    // Everything not served by Latchkey itself is refused: the page must not need a CDN.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(server.url)) return route.continue();
      foreign.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await openPlayground(page);
    await page.locator('.graphiql-execute-button').click();
    await expect
      .poll(async () => (await page.locator('.result-window').textContent()) ?? '', { timeout: 15_000 })
      .toContain('"username": "alice"');
    await screenshot(page, 'playground');
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('Issue 14: at default settings the Docs panel loads the schema (no "Error fetching schema") and shows its types', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await openPlayground(page);
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const docs = page.getByRole('region', { name: 'Documentation Explorer' });
    await docs
      .locator('.graphiql-doc-explorer-type-name', { hasText: 'Query' })
      .first()
      .waitFor({ timeout: 15_000 });
    await docs.locator('.graphiql-doc-explorer-type-name', { hasText: 'Query' }).first().click();
    await expect
      .poll(async () => (await docs.textContent()) ?? '', { timeout: 15_000 })
      .toContain('ApplicationConnection');
    await screenshot(page, 'playground-docs');
    expect(await page.getByText('Error fetching schema').count()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });
});
