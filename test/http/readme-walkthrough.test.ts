import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../helpers/http.js';
import { authorize } from '../helpers/oauth.js';
import { ROOT } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const HEADING = "## Walk-through: the tutorial's flow with curl";

/** The ```sh blocks of the README's walk-through section, in order. */
function walkthroughScript(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`${HEADING}\n`);
  if (start < 0) throw new Error(`README has no "${HEADING}" section`);
  const next = readme.indexOf('\n## ', start + HEADING.length);
  const section = readme.slice(start, next < 0 ? undefined : next);
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  if (blocks.length < 4) throw new Error('the walk-through lost its shell blocks');
  return blocks.join('\n');
}

describe('README walk-through', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('Issue 13 #17 (RFC 6749 §4.1, RFC 7636 §4.2, §6): the README walk-through runs as written — CLI setup, S256 challenge and state, consent, code exchange, userinfo, GraphQL with the Bearer token, refresh', async () => {
    const script = walkthroughScript();
    // The script stops at `read` for the address the browser was sent to; the test is the browser.
    const lines = script.split('\n');
    const readAt = lines.findIndex((l) => /^read -r /.test(l));
    expect(readAt).toBeGreaterThan(0);
    const beforeBrowser = `set -euo pipefail\n${lines.slice(0, readAt + 1).join('\n')}\n`;
    const afterBrowser = `${lines.slice(readAt + 1).join('\n')}\necho WALKTHROUGH-DONE\n`;
    const password = /^PASSWORD='([^']*)'$/m.exec(script)?.[1];
    expect(password).toBeTruthy();

    const bash = spawn('bash', ['-s'], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'test', LATCHKEY: server.url, DATABASE_URL: server.database!.url },
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
      bash.stdin.write(beforeBrowser);
      const deadline = Date.now() + 60_000;
      let authorizeUrl: string | undefined;
      while (!authorizeUrl) {
        authorizeUrl = stdout.split('\n').find((l) => l.startsWith(`${server.url}/o/authorize/?`));
        if (Date.now() > deadline || bash.exitCode !== null) {
          throw new Error(`no authorize URL; stdout: ${stdout} stderr: ${stderr}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = new URL(authorizeUrl);
      expect(url.searchParams.get('code_challenge_method')).toBe('S256');
      expect(url.searchParams.get('state')).toMatch(/^[0-9a-f]{32}$/);

      const browser = new Agent(server.url);
      await browser.login('alice', password!);
      const { location, consentShown } = await authorize(browser, Object.fromEntries(url.searchParams));
      expect(consentShown).toBe(true);
      bash.stdin.end(`${location.href}\n${afterBrowser}`);
      expect(await exited).toBe(0);
    } finally {
      bash.kill('SIGKILL');
    }
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
