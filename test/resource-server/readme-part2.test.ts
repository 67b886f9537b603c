import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import { authorize } from '../helpers/oauth.js';
import { freePort } from '../helpers/ports.js';
import { readReadme, runUntilBrowser, shellBlocks } from '../helpers/readme.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const HEADING = '### Calling it with a token from the walk-through';

describe('README part 2', () => {
  let server: TestServer;
  let script: string;
  let walkthroughPrelude: string;

  beforeAll(async () => {
    const readme = readReadme();
    script = shellBlocks(readme, HEADING, 3);
    // The walk-through's shell state part 2 builds on: LATCHKEY and the json helper.
    walkthroughPrelude = ['LATCHKEY=', 'json() ']
      .map((p) => readme.split('\n').find((l) => l.startsWith(p)))
      .join('\n');
    const scopes = /^export SCOPES='([^']*)'$/m.exec(script)?.[1];
    if (!scopes) throw new Error('part 2 does not export SCOPES');
    server = await startTestServer({ env: { SCOPES: scopes } });
    await createUser(server.cli(), { username: 'alice', password: 'alice: a long password' });
  });
  afterAll(() => server?.stop());

  it('RFC 8707 + RFC 9068 + RFC 6750 + RFC 9728: the part 2 blocks run as written — resource, client, code flow with resource, the notes API called with the token, its challenge and metadata', async () => {
    const run = await runUntilBrowser(script, {
      issuer: server.url,
      prelude: walkthroughPrelude,
      env: { LATCHKEY: server.url, DATABASE_URL: server.database!.url, NOTES_PORT: String(await freePort()) },
      done: 'PART2-DONE',
    });
    try {
      const url = run.authorizeUrl;
      const notes = url.searchParams.get('resource');
      expect(notes).toMatch(/^http:\/\/localhost:\d+\/$/);
      expect(url.searchParams.get('scope')).toBe('notes:read notes:write');
      const browser = new Agent(server.url);
      await browser.login('alice', 'alice: a long password');
      const { location, consentShown } = await authorize(browser, Object.fromEntries(url.searchParams));
      expect(consentShown).toBe(true);
      expect(await run.finish(location.href), run.stderr()).toBe(0);
      const stdout = run.stdout();
      const json = stdout
        .split('\n')
        .filter((l) => l.startsWith('{') || l.startsWith('['))
        .map((l) => JSON.parse(l));
      expect(json).toContainEqual(expect.objectContaining({ text: 'buy milk', id: expect.any(String) }));
      expect(json).toContainEqual([expect.objectContaining({ text: 'buy milk' })]);
      expect(json).toContainEqual(
        expect.objectContaining({ resource: notes, authorization_servers: [server.runtime.config.issuer] }),
      );
      expect(stdout).toContain(
        `Bearer realm="${notes}", resource_metadata="${notes}.well-known/oauth-protected-resource"`,
      );
      expect(stdout).toContain('PART2-DONE');
    } finally {
      run.kill();
    }
  }, 180_000);
});
