import fs from 'node:fs';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, hiddenInputs } from '../helpers/http.js';
import { authorizePath, codeFlow, makeClient, pkce, postForm } from '../helpers/oauth.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { spawnProcess } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const KEK = 'k'.repeat(20) + 'e'.repeat(20);
const OTHER_KEK = 'x'.repeat(40);

interface StoredRows {
  keys: Array<{ id: string; private_key: string; encrypted: boolean }>;
  secrets: Array<{ name: string; value: string; encrypted: boolean }>;
}

async function stored(url: string): Promise<StoredRows> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const keys = await client.query('select id, private_key, encrypted from signing_keys order by id');
    const secrets = await client.query('select name, value, encrypted from server_secrets order by name');
    return { keys: keys.rows, secrets: secrets.rows };
  } finally {
    await client.end();
  }
}

/** The server's log once it has reached the file (the stream writes asynchronously). */
async function logOf(server: TestServer, settleMs = 300): Promise<string> {
  await new Promise((r) => setTimeout(r, settleMs));
  return fs.readFileSync(server.logFile, 'utf8');
}

async function jwks(server: TestServer): Promise<JSONWebKeySet> {
  return (await (await fetch(new URL('/o/jwks/', server.url))).json()) as JSONWebKeySet;
}

describe('KEY_ENCRYPTION_KEY set on a database that already has keys', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('Issue 13 #9 (OWASP ASVS V6.4.1, key material encrypted at rest): existing plaintext signing keys and server secrets are encrypted in place at start, the same keys keep signing and pending consent forms stay valid; a second start encrypts nothing; no key or a wrong key refuses to start', async () => {
    // 1. A server without the key writes its keys and secret in plaintext.
    const plain = await startTestServer({ databaseUrl: db.url });
    const client = await makeClient(plain, { scopes: ['openid', 'read'] }, 'alice');
    const agent = new Agent(plain.url);
    await agent.login('alice', 'alice-password');
    const { challenge } = pkce();
    const consentPage = await agent.get(
      authorizePath({
        response_type: 'code',
        client_id: client.clientId,
        redirect_uri: client.redirectUri,
        scope: 'openid read',
        state: 'before-encryption',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
    );
    expect(consentPage.text).toContain('name="consent_request"');
    const pendingConsent = hiddenInputs(consentPage.text, '/o/authorize/');
    const plainJwks = await jwks(plain);
    await plain.stop();
    const before = await stored(db.url);
    expect(before.keys.length).toBe(3);
    expect(before.keys.every((k) => !k.encrypted && k.private_key.includes('"d":'))).toBe(true);
    expect(before.secrets.map((s) => s.encrypted)).toEqual([false]);

    // 2. Started with the key: every row is encrypted in place, and the log says how many.
    const encrypted = await startTestServer({ databaseUrl: db.url, env: { KEY_ENCRYPTION_KEY: KEK } });
    const after = await stored(db.url);
    expect(after.keys.map((k) => k.id)).toEqual(before.keys.map((k) => k.id));
    for (const [i, key] of after.keys.entries()) {
      expect(key.encrypted).toBe(true);
      expect(key.private_key).not.toContain('"d":');
      const d = (JSON.parse(before.keys[i].private_key) as { d: string }).d;
      expect(key.private_key).not.toContain(d);
    }
    expect(after.secrets[0].encrypted).toBe(true);
    expect(after.secrets[0].value).not.toContain(before.secrets[0].value);
    expect(await logOf(encrypted)).toContain('encrypted 3 signing keys and 1 server secret at rest');

    // The same keys sign: an id_token from this server verifies with the JWKS published before.
    expect((await jwks(encrypted)).keys.map((k) => k.kid).sort()).toEqual(
      plainJwks.keys.map((k) => k.kid).sort(),
    );
    const agent2 = new Agent(encrypted.url);
    for (const [k, v] of agent.cookies) agent2.cookies.set(k, v);
    const tokens = await codeFlow(encrypted, agent2, client, { scope: 'openid', nonce: 'n-1' });
    const idToken = tokens.id_token as string;
    expect(plainJwks.keys.map((k) => k.kid)).toContain(decodeProtectedHeader(idToken).kid);
    await jwtVerify(idToken, createLocalJWKSet(plainJwks), { audience: client.clientId });
    // The CSRF and consent-state key is the same secret: the form shown before still works.
    const approved = await agent2.post('/o/authorize/', { ...pendingConsent, allow: 'Allow' });
    expect(approved.status).toBe(302);
    const back = new URL(approved.location ?? '', encrypted.url);
    expect(back.searchParams.get('state')).toBe('before-encryption');
    expect(back.searchParams.get('code')).toBeTruthy();
    await encrypted.stop();

    // 3. Started again with the key: nothing is re-encrypted.
    const again = await startTestServer({ databaseUrl: db.url, env: { KEY_ENCRYPTION_KEY: KEK } });
    const log = await logOf(again);
    await again.stop();
    expect(log).not.toMatch(/encrypted \d+ signing key/);
    expect(await stored(db.url)).toEqual(after);

    // 4. Without the key, or with another one: the server refuses and replaces nothing.
    await expect(startTestServer({ databaseUrl: db.url })).rejects.toThrow(
      /^The stored server secrets are encrypted: set KEY_ENCRYPTION_KEY/,
    );
    await expect(
      startTestServer({ databaseUrl: db.url, env: { KEY_ENCRYPTION_KEY: OTHER_KEK } }),
    ).rejects.toThrow(/^KEY_ENCRYPTION_KEY does not decrypt the stored signing keys/);
    expect(await stored(db.url)).toEqual(after);
  });

  it('Issue 13 #9: `npm start` with a wrong KEY_ENCRYPTION_KEY exits 1 with one line naming the variable, no stack trace', async () => {
    const port = await freePort();
    const proc = spawnProcess('node', ['--import', 'tsx', 'src/main.ts'], {
      DATABASE_URL: db.url,
      PORT: String(port),
      KEY_ENCRYPTION_KEY: OTHER_KEK,
      CLEANUP_INTERVAL: '0',
    });
    const code = await Promise.race([
      proc.exited,
      new Promise<string>((r) => setTimeout(() => r('still running'), 40_000)),
    ]).finally(() => proc.stop('SIGKILL'));
    expect(code).toBe(1);
    const lines = proc
      .output()
      .trim()
      .split('\n')
      .filter((l) => !l.includes('"migrations applied"'));
    expect(lines).toEqual([
      'KEY_ENCRYPTION_KEY does not decrypt the stored signing keys: set it to the key they were encrypted with.',
    ]);
  });
});

describe('KEY_ENCRYPTION_KEY with two instances starting at once', () => {
  it('Issue 13 #9: two instances given the key at once encrypt each plaintext row exactly once (conditional UPDATE) and both serve', async () => {
    const db = await createTestDatabase();
    try {
      await (await startTestServer({ databaseUrl: db.url })).stop();
      const servers = await Promise.all([
        startTestServer({ databaseUrl: db.url, env: { KEY_ENCRYPTION_KEY: KEK } }),
        startTestServer({ databaseUrl: db.url, env: { KEY_ENCRYPTION_KEY: KEK } }),
      ]);
      const logs = await Promise.all(servers.map((s) => logOf(s)));
      const counted = logs
        .flatMap((l) => l.split('\n'))
        .filter((l) => l.includes('at rest'))
        .map((l) => JSON.parse(l) as { signingKeys: number; serverSecrets: number });
      expect(counted.reduce((n, c) => n + c.signingKeys, 0)).toBe(3);
      expect(counted.reduce((n, c) => n + c.serverSecrets, 0)).toBe(1);
      const rows = await stored(db.url);
      expect([...rows.keys, ...rows.secrets].every((r) => r.encrypted)).toBe(true);
      for (const s of servers) {
        const client = await makeClient(s, { grantTypes: ['client_credentials'] });
        const res = await postForm(s, '/o/token/', { grant_type: 'client_credentials' }, client);
        expect(res.status).toBe(200);
      }
      await Promise.all(servers.map((s) => s.stop()));
    } finally {
      await db.drop();
    }
  });
});
