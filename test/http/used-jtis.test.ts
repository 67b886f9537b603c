import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimJti, claimJtis } from '../../src/db/tables/used-jtis.js';
import { deleteExpired } from '../../src/services/cleanup.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The one replay cache for JWT ids (DPoP proofs, client assertions): rows in PostgreSQL, so a
 * replay is refused whichever instance saw the first use.
 */

let db: TestDatabase;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([
    startTestServer({ databaseUrl: db.url, env: { CLEANUP_INTERVAL: '0' } }),
    startTestServer({ databaseUrl: db.url, env: { CLEANUP_INTERVAL: '0' } }),
  ]);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await db?.drop();
});

const inAMinute = () => new Date(Date.now() + 60_000);

describe('used JWT ids (RFC 9449 §11.1, RFC 7523 §3 item 7)', () => {
  it('RFC 9449 §11.1: of 40 parallel first uses of one jti on two instances sharing a database, exactly one is accepted', async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        claimJti((i % 2 ? a : b).runtime.db.sql, 'dpop', 'thumbprint-1', 'jti-parallel', inAMinute()),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('RFC 9449 §11.1: the batched claim gives one verdict per item — a jti twice in one batch, or already claimed, is a replay', async () => {
    const sql = a.runtime.db.sql;
    const item = (jti: string) => ({
      purpose: 'dpop' as const,
      issuer: 'thumbprint-3',
      jti,
      expiresAt: inAMinute(),
    });
    expect(await claimJti(sql, 'dpop', 'thumbprint-3', 'taken', inAMinute())).toBe(true);
    expect(await claimJtis(sql, [item('one'), item('two'), item('one'), item('taken')])).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(await claimJtis(b.runtime.db.sql, [item('two'), item('three')])).toEqual([false, true]);
  });

  it('RFC 7523 §3 item 7: a jti is single-use per issuer and purpose — the same value from another key, another client or for the other purpose is a first use', async () => {
    const sql = a.runtime.db.sql;
    expect(await claimJti(sql, 'client_assertion', 'client-1', 'shared', inAMinute())).toBe(true);
    expect(await claimJti(sql, 'client_assertion', 'client-1', 'shared', inAMinute())).toBe(false);
    expect(await claimJti(sql, 'client_assertion', 'client-2', 'shared', inAMinute())).toBe(true);
    expect(await claimJti(sql, 'dpop', 'client-1', 'shared', inAMinute())).toBe(true);
    // The digest's input is unambiguous: ("x\0y", "z") and ("x", "y\0z") are different pairs.
    expect(await claimJti(sql, 'dpop', 'x\0y', 'z', inAMinute())).toBe(true);
    expect(await claimJti(sql, 'dpop', 'x', 'y\0z', inAMinute())).toBe(true);
  });

  it('a jti whose row has expired is accepted again (its JWT would be refused by its own lifetime first), and the cleanup deletes expired rows', async () => {
    const sql = a.runtime.db.sql;
    expect(await claimJti(sql, 'dpop', 'thumbprint-2', 'old', new Date(Date.now() - 1000))).toBe(true);
    expect(await claimJti(sql, 'dpop', 'thumbprint-2', 'old', inAMinute())).toBe(true);
    expect(await claimJti(sql, 'dpop', 'thumbprint-2', 'old', inAMinute())).toBe(false);
    await claimJti(sql, 'dpop', 'thumbprint-2', 'expired', new Date(Date.now() - 1000));
    const counts = await deleteExpired(sql, 1000, { pauseMs: 0 });
    expect(counts.used_jtis).toBe(1);
    const left = await sql.query<{ n: string }>(
      'select count(*)::text as n from used_jtis where expires_at < now()',
    );
    expect(left[0].n).toBe('0');
  });
});
