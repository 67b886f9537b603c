import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { digest } from '../../src/services/secrets.js';
import { createTestDatabase } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { runCli, SERVER_START_MS, spawnProcess, waitForHealthy } from '../helpers/process.js';
import { startTestServer } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-test-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('CLI on PostgreSQL', () => {
  it('creates users and applications, refuses duplicates and bad input with one line (every invalid field, Review 13.16) and a non-zero exit', async () => {
    const db = await createTestDatabase({ migrated: false });
    cleanups.push(() => db.drop());
    const env = { DATABASE_URL: db.url };

    const migrated = await runCli(['migrate'], env);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(/applied \d+ migration/);
    expect((await runCli(['migrate'], env)).stdout).toMatch(/up to date/);

    const created = await runCli(
      ['create-user', '--username', 'admin', '--password', 'admin-pass', '--admin'],
      env,
    );
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ username: 'admin', is_admin: true });

    const dup = await runCli(
      ['create-user', '--username', 'admin', '--password', 'admin-pass', '--admin'],
      env,
    );
    expect(dup.code).not.toBe(0);
    expect(dup.stderr.trim()).toBe('error: User "admin" already exists.');

    const app = await runCli(
      [
        'create-application',
        '--owner',
        'admin',
        '--name',
        'demo',
        '--client-type',
        'confidential',
        '--grant-types',
        'authorization_code,refresh_token',
        '--redirect-uris',
        'http://127.0.0.1:9999/cb',
      ],
      env,
    );
    expect(app.code).toBe(0);
    const out = JSON.parse(app.stdout) as { client_id: string; client_secret: string };
    expect(out.client_id).toBeTruthy();
    expect(out.client_secret).toMatch(/^lk_cs_/);
    // The database holds only the secret's digest.
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query('select * from applications where client_id = $1', [out.client_id]);
    await client.end();
    expect(Buffer.from(rows[0].client_secret_digest).equals(digest(out.client_secret))).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(out.client_secret.slice(6));

    const unknownOwner = await runCli(
      [
        'create-application',
        '--owner',
        'ghost',
        '--name',
        'x',
        '--client-type',
        'public',
        '--grant-types',
        'authorization_code',
        '--redirect-uris',
        'http://127.0.0.1/cb',
      ],
      env,
    );
    expect(unknownOwner.code).not.toBe(0);
    expect(unknownOwner.stderr.trim()).toBe('error: unknown owner "ghost": create the user first');

    const badUri = await runCli(
      [
        'create-application',
        '--owner',
        'admin',
        '--name',
        'x',
        '--client-type',
        'public',
        '--grant-types',
        'authorization_code,client_credentials',
        '--redirect-uris',
        'http://evil.example/cb,intent://x',
      ],
      env,
    );
    expect(badUri.code).not.toBe(0);
    expect(badUri.stderr.trim().split('\n')).toHaveLength(1);
    // Review 13.16: every invalid field on that one line.
    expect(badUri.stderr).toMatch(/must use https/);
    expect(badUri.stderr).toMatch(/scheme "intent:" is not allowed/);
    expect(badUri.stderr).toMatch(/public client cannot use the client_credentials grant/);

    const cleared = await runCli(['clear-tokens'], env);
    expect(cleared.code).toBe(0);
    expect(JSON.parse(cleared.stdout).deleted).toHaveProperty('access_tokens', 0);

    const help = await runCli(['--help'], env);
    expect(help.code).toBe(0);
    for (const c of ['migrate', 'create-user', 'create-application', 'clear-tokens', 'rotate-keys'])
      expect(help.stdout).toContain(c);

    const unknown = await runCli(['frobnicate'], env);
    expect(unknown.code).not.toBe(0);
  }, 240_000);

  it('clear-tokens deletes only expired rows, in bounded batches', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const sql = server.runtime.db.sql;
    await runCli(['create-user', '--username', 'u', '--password', 'u-password'], {
      DATABASE_URL: server.database!.url,
    });
    const app = JSON.parse(
      (
        await runCli(
          [
            'create-application',
            '--owner',
            'u',
            '--name',
            'cc',
            '--client-type',
            'confidential',
            '--grant-types',
            'client_credentials',
          ],
          { DATABASE_URL: server.database!.url },
        )
      ).stdout,
    ) as { id: string };
    await sql.execute(
      `insert into access_tokens (id, token_digest, application_id, scopes, expires_at)
       select gen_random_uuid(), sha256(('t' || g)::bytea), $1, '{read}', now() - interval '1 hour' from generate_series(1, 2500) g`,
      [app.id],
    );
    await sql.execute(
      `insert into access_tokens (id, token_digest, application_id, scopes, expires_at)
       select gen_random_uuid(), sha256(('live' || g)::bytea), $1, '{read}', now() + interval '1 hour' from generate_series(1, 10) g`,
      [app.id],
    );
    const res = await runCli(['clear-tokens', '--batch-size', '1000'], {
      DATABASE_URL: server.database!.url,
    });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).deleted.access_tokens).toBe(2500);
    const left = await sql.query<{ n: number }>('select count(*)::int as n from access_tokens');
    expect(left[0].n).toBe(10);
  }, 180_000); // three CLI processes, each compiling the sources with tsx
});

describe('/healthz', () => {
  it('answers 200 with the database status on PostgreSQL', async () => {
    const server = await startTestServer({ backend: 'postgresql' });
    cleanups.push(() => server.stop());
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', database: 'ok', databaseKind: 'postgresql' });
  });

  it('answers 200 with the database status on PGlite', async () => {
    const server = await startTestServer({ backend: 'pglite' });
    cleanups.push(() => server.stop());
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', database: 'ok', databaseKind: 'pglite' });
  });

  it('answers 503 when the database does not answer, and recovers', async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const server = await startTestServer({ databaseUrl: db.url });
    cleanups.push(() => server.stop());
    // Make every new connection fail: the database refuses connections, existing ones are cut.
    const { adminQuery } = await import('../helpers/pg.js');
    await adminQuery(`alter database ${db.name} with allow_connections false`);
    await adminQuery(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${db.name}'`);
    const down = await fetch(`${server.url}/healthz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'unavailable', database: 'unavailable' });
    await adminQuery(`alter database ${db.name} with allow_connections true`);
    expect(await waitForHealthy(`${server.url}/healthz`, 10_000)).toBe(200);
  });
});

describe('npm start with embedded PGlite', () => {
  it('serves /healthz from an empty directory, keeps data in DATA_DIR, and a second process on it refuses to start naming the lock', async () => {
    const dir = tempDir();
    const dataDir = path.join(dir, 'nested', 'data');
    const port = await freePort();
    const first = spawnProcess('npm', ['start'], { DATA_DIR: dataDir, PORT: String(port), DATABASE_URL: '' });
    cleanups.push(() => first.stop('SIGKILL'));
    expect(await waitForHealthy(`http://127.0.0.1:${port}/healthz`, SERVER_START_MS, first)).toBe(200);
    expect(fs.existsSync(path.join(dataDir, 'pgdata'))).toBe(true);
    expect(fs.existsSync(path.join(dataDir, 'latchkey.lock'))).toBe(true);

    const second = spawnProcess('node', ['--import', 'tsx', 'src/main.ts'], {
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      DATABASE_URL: '',
    });
    expect(await second.exited).not.toBe(0);
    expect(second.output()).toMatch(/in use by process \d+ \(lock file .*latchkey\.lock\)/);

    // The CLI still works while the server holds the directory: the server runs the command.
    const env = { DATA_DIR: dataDir, DATABASE_URL: '' };
    const created = await runCli(
      ['create-user', '--username', 'admin', '--password', 'admin-pass', '--admin'],
      env,
    );
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ username: 'admin', is_admin: true });
    const dup = await runCli(['create-user', '--username', 'admin', '--password', 'admin-pass'], env);
    expect(dup.code).toBe(1);
    expect(dup.stderr.trim()).toBe('error: User "admin" already exists.');

    // Graceful stop releases the lock (npm re-raises the signal, so its own exit is by SIGTERM).
    await first.stop('SIGTERM');
    expect(first.output()).toContain('"msg":"shutting down"');
    expect(fs.existsSync(path.join(dataDir, 'latchkey.lock'))).toBe(false);
  }, 300_000);

  it('after kill -9 the stale lock is taken over and the data survived', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const port = await freePort();
    const env = { DATA_DIR: dataDir, PORT: String(port), DATABASE_URL: '' };
    const created = await runCli(
      ['create-user', '--username', 'survivor', '--password', 'survivor-pass'],
      env,
    );
    expect(created.code).toBe(0);
    const first = spawnProcess('node', ['--import', 'tsx', 'src/main.ts'], env);
    expect(await waitForHealthy(`http://127.0.0.1:${port}/healthz`, SERVER_START_MS, first)).toBe(200);
    await first.stop('SIGKILL');
    expect(fs.existsSync(path.join(dataDir, 'latchkey.lock'))).toBe(true);

    const again = await runCli(['create-user', '--username', 'survivor', '--password', 'survivor-pass'], env);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already exists/);
  }, 300_000);
});
