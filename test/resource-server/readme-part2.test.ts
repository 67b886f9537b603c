import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import { authorize } from '../helpers/oauth.js';
import { freePort } from '../helpers/ports.js';
import { ROOT } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const HEADING = '### Calling it with a token from the walk-through';

/** The ```sh blocks of the README's part 2 "calling it" section, in order. */
function part2Script(readme: string): string {
  const start = readme.indexOf(`${HEADING}\n`);
  if (start < 0) throw new Error(`README has no "${HEADING}" section`);
  const next = readme.indexOf('\n### ', start + HEADING.length);
  const blocks = [...readme.slice(start, next).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  if (blocks.length < 3) throw new Error('part 2 lost its shell blocks');
  return blocks.join('\n');
}

describe('README part 2', () => {
  let server: TestServer;
  let script: string;
  let walkthroughPrelude: string;

  beforeAll(async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    script = part2Script(readme);
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
    const lines = script.split('\n');
    const readAt = lines.findIndex((l) => /^read -r /.test(l));
    expect(readAt).toBeGreaterThan(0);
    const before = `set -euo pipefail\n${walkthroughPrelude}\n${lines.slice(0, readAt + 1).join('\n')}\n`;
    const after = `${lines.slice(readAt + 1).join('\n')}\necho PART2-DONE\n`;
    const bash = spawn('bash', ['-s'], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LATCHKEY: server.url,
        DATABASE_URL: server.database!.url,
        NOTES_PORT: String(await freePort()),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    bash.stdout.on('data', (d) => {
      stdout += d;
    });
    bash.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((r) => bash.on('close', (code) => r(code)));
    try {
      bash.stdin.write(before);
      const deadline = Date.now() + 60_000;
      let authorizeUrl: string | undefined;
      while (!authorizeUrl) {
        authorizeUrl = stdout.split('\n').find((l) => l.startsWith(`${server.url}/o/authorize/?`));
        if (Date.now() > deadline || bash.exitCode !== null)
          throw new Error(`no authorize URL; stdout: ${stdout} stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = new URL(authorizeUrl);
      const notes = url.searchParams.get('resource');
      expect(notes).toMatch(/^http:\/\/localhost:\d+\/$/);
      expect(url.searchParams.get('scope')).toBe('notes:read notes:write');
      const browser = new Agent(server.url);
      await browser.login('alice', 'alice: a long password');
      const { location, consentShown } = await authorize(browser, Object.fromEntries(url.searchParams));
      expect(consentShown).toBe(true);
      bash.stdin.end(`${location.href}\n${after}`);
      expect(await exited, stderr).toBe(0);
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
      bash.kill('SIGKILL');
    }
  }, 180_000);
});
