import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../helpers/http.js';
import { authorize } from '../helpers/oauth.js';
import { readReadme, runUntilBrowser, shellBlocks } from '../helpers/readme.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const HEADING = "## Walk-through: the tutorial's flow with curl";

describe('README walk-through', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('Issue 13 #17 (RFC 6749 §4.1, RFC 7636 §4.2, §6): the README walk-through runs as written — CLI setup, S256 challenge and state, consent, code exchange, userinfo, GraphQL with the Bearer token, refresh', async () => {
    const script = shellBlocks(readReadme(), HEADING, 4);
    const password = /^PASSWORD='([^']*)'$/m.exec(script)?.[1];
    expect(password).toBeTruthy();
    // The script stops at `read` for the address the browser was sent to; the test is the browser.
    const run = await runUntilBrowser(script, {
      issuer: server.url,
      env: { LATCHKEY: server.url, DATABASE_URL: server.database!.url },
      done: 'WALKTHROUGH-DONE',
    });
    try {
      const url = run.authorizeUrl;
      expect(url.searchParams.get('code_challenge_method')).toBe('S256');
      expect(url.searchParams.get('state')).toMatch(/^[0-9a-f]{32}$/);

      const browser = new Agent(server.url);
      await browser.login('alice', password!);
      const { location, consentShown } = await authorize(browser, Object.fromEntries(url.searchParams));
      expect(consentShown).toBe(true);
      expect(await run.finish(location.href), run.stderr()).toBe(0);
    } finally {
      run.kill();
    }
    const stdout = run.stdout();
    expect(stdout).not.toContain('state differs');
    const json = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const tokenResponses = json.filter((j) => 'access_token' in j);
    expect(tokenResponses).toHaveLength(2);
    for (const t of tokenResponses) {
      expect(t).toMatchObject({ token_type: 'Bearer', scope: 'openid profile graphql' });
      expect(t.refresh_token).toEqual(expect.any(String));
      expect(t.id_token).toEqual(expect.any(String));
    }
    expect(tokenResponses[1].refresh_token).not.toBe(tokenResponses[0].refresh_token);
    expect(json).toContainEqual(
      expect.objectContaining({ preferred_username: 'alice', sub: expect.any(String) }),
    );
    expect(json).toContainEqual({ data: { viewer: { username: 'alice' } } });
    expect(stdout).toContain('WALKTHROUGH-DONE');
  }, 180_000);
});
