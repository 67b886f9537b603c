import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, decodeEntities } from '../helpers/http.js';
import { authorizePath, makeClient } from '../helpers/oauth.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import {
  ROOT,
  runCli,
  SERVER_START_MS,
  type Spawned,
  spawnProcess,
  waitForHealthy,
} from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** Runs `command` on a pseudo-terminal (util-linux `script`), like a person at a terminal would. */
function onTerminal(command: string, env: Record<string, string>): Spawned {
  return spawnProcess('script', ['-qec', command, '/dev/null'], env);
}

async function until(check: () => boolean, timeoutMs: number, proc: Spawned): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline || proc.child.exitCode !== null) {
      throw new Error(`timed out; output so far: ${proc.output().slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function canLogIn(base: string, username: string, password: string): Promise<boolean> {
  try {
    await new Agent(base).login(username, password);
    return true;
  } catch {
    return false;
  }
}

describe('operator messages with PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('Issue 13 #18: a port already in use is one line naming PORT, exit 1, no stack trace', async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => blocker.close(r)));
    const proc = spawnProcess('node', ['--import', 'tsx', 'src/main.ts'], {
      DATABASE_URL: db.url,
      PORT: String(port),
      CLEANUP_INTERVAL: '0',
    });
    cleanups.push(() => proc.stop('SIGKILL'));
    expect(await proc.exited).toBe(1);
    expect(proc.output().trim()).toBe(
      `Port ${port} is already in use: set PORT to another port (or stop the process using it).`,
    );
  });

  it('Issue 13 #18: without a terminal the start is logged as JSON, with no human line', async () => {
    const port = await freePort();
    const proc = spawnProcess('node', ['--import', 'tsx', 'src/main.ts'], {
      DATABASE_URL: db.url,
      PORT: String(port),
      CLEANUP_INTERVAL: '0',
    });
    cleanups.push(() => proc.stop('SIGKILL'));
    expect(await waitForHealthy(`http://127.0.0.1:${port}/healthz`, SERVER_START_MS, proc)).toBe(200);
    await until(() => proc.output().includes('"msg":"listening"'), 5000, proc);
    for (const line of proc.output().trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    expect(proc.output()).not.toContain('Latchkey listening');
  });

  it('Issue 13 #18: create-user --password-stdin reads the password from a pipe, and that password logs in over HTTP; without a terminal or --password it fails with one line', async () => {
    const server = await startTestServer({ databaseUrl: db.url });
    cleanups.push(() => server.stop());
    const env = { DATABASE_URL: db.url };
    const created = await runCli(
      ['create-user', '--username', 'piped', '--password-stdin'],
      env,
      'piped-password-1\n',
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ username: 'piped' });
    expect(await canLogIn(server.url, 'piped', 'piped-password-1')).toBe(true);

    const noPassword = await runCli(['create-user', '--username', 'nopw'], env, '');
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toBe(
      'error: stdin is not a terminal: give --password-stdin and pipe the password in\n',
    );
    const empty = await runCli(['create-user', '--username', 'nopw', '--password-stdin'], env, '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe('error: --password-stdin: stdin held no password\n');
  });

  it('Issue 13 #18 (RFC 6749 §4.1.2.1 error page): the "redirect URI not registered" page shows the URI it received, HTML-escaped and shortened', async () => {
    const server: TestServer = await startTestServer({ databaseUrl: db.url });
    cleanups.push(() => server.stop());
    const client = await makeClient(server);
    const alice = new Agent(server.url);
    const hostile = 'https://evil.example/cb?x=<script>alert(1)</script>';
    const res = await alice.get(
      authorizePath({ response_type: 'code', client_id: client.clientId, redirect_uri: hostile }),
    );
    expect(res.status).toBe(400);
    expect(res.location).toBeUndefined();
    expect(res.text).not.toContain('<script>alert(1)');
    expect(decodeEntities(res.text)).toContain(
      `The redirect_uri in this request (${hostile}) is not registered`,
    );

    const long = `https://client.example.com/${'a'.repeat(3000)}`;
    const longRes = await alice.get(
      authorizePath({ response_type: 'code', client_id: client.clientId, redirect_uri: long }),
    );
    const page = decodeEntities(longRes.text);
    expect(page).toContain(`(${long.slice(0, 199)}…)`);
    expect(page).not.toContain(long);
  });
});

describe('operator messages at a terminal, with embedded PGlite', () => {
  it('Issue 13 #18: at a terminal `npm start` prints one readable line (URL, database, how to create a user); create-user asks for the password twice without echo, also when handed to the running server, and that password logs in', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-tty-'));
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const env = { DATA_DIR: dataDir, DATABASE_URL: '', PORT: String(port), CLEANUP_INTERVAL: '0' };
    const server = onTerminal('node --import tsx src/main.ts', env);
    cleanups.push(() => server.stop('SIGKILL'));
    await until(() => server.output().includes('Latchkey listening'), SERVER_START_MS, server);
    await until(() => server.output().includes('\n'), 2000, server);
    const startLine = server
      .output()
      .split('\n')
      .find((l) => l.includes('Latchkey listening'));
    expect(startLine?.trim()).toBe(
      `Latchkey listening on http://127.0.0.1:${port} (public URL http://localhost:8000; database: PGlite in ${dataDir}). Create a user with: npm run cli -- create-user --username admin --admin`,
    );
    expect(server.output()).not.toContain('"msg":"listening"');

    // The server holds the directory, so the CLI hands the command over its socket — after
    // reading the password here.
    const cli = spawn(
      'script',
      ['-qec', 'node --import tsx src/cli/index.ts create-user --username tty', '/dev/null'],
      {
        cwd: ROOT,
        env: { ...process.env, NODE_ENV: 'test', ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let seen = '';
    cli.stdout.on('data', (d) => {
      seen += d;
    });
    const closed = new Promise<number | null>((r) => cli.on('close', (code) => r(code)));
    cleanups.push(() => cli.kill('SIGKILL'));
    const wait = async (text: string) => {
      const deadline = Date.now() + 30_000;
      while (!seen.includes(text)) {
        if (Date.now() > deadline) throw new Error(`no "${text}" in ${JSON.stringify(seen)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await wait('Password: ');
    cli.stdin.write('typed-password-1\r');
    await wait('Repeat the password: ');
    cli.stdin.write('typed-password-1\r');
    expect(await closed).toBe(0);
    expect(seen).toContain('"username":"tty"');
    expect(seen).not.toContain('typed-password-1');
    expect(await canLogIn(`http://127.0.0.1:${port}`, 'tty', 'typed-password-1')).toBe(true);

    const piped = await runCli(
      ['create-user', '--username', 'piped', '--password-stdin'],
      env,
      'piped-password-2\n',
    );
    expect(piped.code).toBe(0);
    expect(await canLogIn(`http://127.0.0.1:${port}`, 'piped', 'piped-password-2')).toBe(true);
  });
});
