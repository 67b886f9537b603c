import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Config } from '../config/index.js';
import type { Sql } from '../db/sql.js';
import type { SigningAlg } from '../entities/Application.js';
import type { Logger } from '../log.js';
import { SIGNING_ALGS } from '../vocabulary.js';
import type { SigningKeyPair } from './jws.js';
import { openAtRest, sealAtRest } from './key-crypto.js';

export const KEYS_CHANNEL = 'latchkey_keys';

export interface PublishedKey {
  kid: string;
  alg: SigningAlg;
  status: 'active' | 'previous';
  publicJwk: JWK;
  createdAt: Date;
  expiresAt: Date | null;
}

interface KeyRow extends Record<string, unknown> {
  id: string;
  alg: SigningAlg;
  public_jwk: JWK;
  private_key: string;
  encrypted: boolean;
  status: 'active' | 'previous';
  created_at: Date;
  expires_at: Date | null;
}

/**
 * Signing keys: stored in the database (private keys encrypted when KEY_ENCRYPTION_KEY is set),
 * parsed once into KeyObjects and kept in memory — never parsed per request. One active key per
 * algorithm signs; a rotated-out key stays published until every token it signed has expired.
 */
export class KeyStore {
  private active = new Map<SigningAlg, SigningKeyPair>();
  private published: PublishedKey[] = [];

  constructor(
    private readonly sql: Sql,
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  /** Makes sure an active key exists for every algorithm (first start), then loads them. */
  async init(): Promise<void> {
    for (const alg of SIGNING_ALGS) {
      const rows = await this.sql.query("select 1 from signing_keys where alg = $1 and status = 'active'", [
        alg,
      ]);
      if (rows.length === 0) await this.insertFirstKey(alg);
    }
    await this.load();
  }

  /** Re-reads the keys (after a rotation here or on another instance). */
  async load(): Promise<void> {
    const rows = await this.sql.query<KeyRow>(
      `select id, alg, public_jwk, private_key, encrypted, status, created_at, expires_at from signing_keys
        where expires_at is null or expires_at > now() order by created_at desc`,
    );
    const active = new Map<SigningAlg, SigningKeyPair>();
    for (const row of rows) {
      if (row.status !== 'active') continue;
      const jwk = JSON.parse(
        row.encrypted
          ? openAtRest(row.private_key, this.config.keyEncryptionKey, 'signing key')
          : row.private_key,
      ) as JWK;
      active.set(row.alg, {
        kid: row.id,
        alg: row.alg,
        key: createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }),
      });
    }
    this.active = active;
    this.published = rows.map((r) => ({
      kid: r.id,
      alg: r.alg,
      status: r.status,
      publicJwk: r.public_jwk,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
    }));
  }

  signer(alg: SigningAlg): SigningKeyPair {
    const key = this.active.get(alg);
    if (!key) throw new Error(`no active ${alg} signing key`);
    return key;
  }

  /** The JWKS document: public keys only, active and not yet retired. */
  jwks(): { keys: JWK[] } {
    const now = Date.now();
    return {
      keys: this.published
        .filter((k) => k.expiresAt === null || k.expiresAt.getTime() > now)
        .map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' })),
    };
  }

  list(): readonly PublishedKey[] {
    return this.published;
  }

  /**
   * Makes new keys active. The previous ones stay published until every token they signed has
   * expired (the longest of the id_token and access token lifetimes, plus a minute of clock
   * skew); cleanup deletes them after that.
   */
  async rotate(): Promise<PublishedKey[]> {
    const retireAfter = Math.max(this.config.ttl.idToken, this.config.ttl.accessToken) + 60;
    const fresh: Array<{ kid: string; alg: SigningAlg }> = [];
    const prepared = await Promise.all(SIGNING_ALGS.map((alg) => this.prepareKey(alg)));
    await this.sql.transaction(async (tx) => {
      await tx.execute(
        `update signing_keys set status = 'previous', rotated_at = now(), expires_at = now() + make_interval(secs => $1)
          where status = 'active'`,
        [retireAfter],
      );
      for (const p of prepared) {
        await insertPrepared(tx, p);
        fresh.push({ kid: p.kid, alg: p.alg });
      }
      await tx.execute('select pg_notify($1, $2)', [KEYS_CHANNEL, 'rotated']);
    });
    await this.load();
    this.log.info({ kids: fresh.map((f) => f.kid) }, 'signing keys rotated');
    return this.published.filter((k) => fresh.some((f) => f.kid === k.kid));
  }

  private async insertFirstKey(alg: SigningAlg): Promise<void> {
    const p = await this.prepareKey(alg);
    // The partial unique index (one active key per algorithm) settles instances starting together.
    await this.sql.execute(
      `insert into signing_keys (id, alg, public_jwk, private_key, encrypted, status) values ($1, $2, $3, $4, $5, 'active')
       on conflict (alg) where status = 'active' do nothing`,
      [p.kid, p.alg, JSON.stringify(p.publicJwk), p.privateKey, p.encrypted],
    );
  }

  private async prepareKey(alg: SigningAlg): Promise<PreparedKey> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
    const publicJwk = await exportJWK(publicKey);
    const privateJwk = JSON.stringify(await exportJWK(privateKey));
    const kid = await calculateJwkThumbprint(publicJwk);
    const kek = this.config.keyEncryptionKey;
    return {
      kid,
      alg,
      publicJwk,
      privateKey: kek ? sealAtRest(privateJwk, kek, 'signing key') : privateJwk,
      encrypted: Boolean(kek),
    };
  }
}

interface PreparedKey {
  kid: string;
  alg: SigningAlg;
  publicJwk: JWK;
  privateKey: string;
  encrypted: boolean;
}

async function insertPrepared(sql: Sql, p: PreparedKey): Promise<void> {
  await sql.execute(
    `insert into signing_keys (id, alg, public_jwk, private_key, encrypted, status) values ($1, $2, $3, $4, $5, 'active')`,
    [p.kid, p.alg, JSON.stringify(p.publicJwk), p.privateKey, p.encrypted],
  );
}
