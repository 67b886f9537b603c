import { newId } from '../../entities/base.js';
import type { Sql } from '../sql.js';
import { statement } from './statement.js';

/**
 * Second factors (user_factors), recovery codes and WebAuthn challenges: every statement whose
 * condition is the security rule (a TOTP step used once, a recovery code used once, a challenge
 * answered once, a signature counter that only moves forward) is one conditional statement, so
 * parallel submissions of the same value cannot both pass.
 */

export type FactorKind = 'totp' | 'webauthn';

export interface FactorRow {
  id: string;
  kind: FactorKind;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  deviceType: string | null;
}

interface FactorDbRow {
  id: string;
  kind: FactorKind;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
  device_type: string | null;
}

const toFactor = (r: FactorDbRow): FactorRow => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  deviceType: r.device_type,
});

const LIST = statement(
  ['user_id'],
  `select id, kind, name, created_at, last_used_at, device_type from user_factors
    where user_id = :user_id order by created_at, id`,
);

/** A user's factors, oldest first (never their secrets). */
export async function factorsOf(sql: Sql, userId: string): Promise<FactorRow[]> {
  return (await sql.query<FactorDbRow>(LIST.text, LIST.values({ user_id: userId }))).map(toFactor);
}

const HAS = statement(
  ['user_id'],
  'select exists (select 1 from user_factors where user_id = :user_id) as has',
);

export async function hasFactor(sql: Sql, userId: string): Promise<boolean> {
  const rows = await sql.query<{ has: boolean }>(HAS.text, HAS.values({ user_id: userId }));
  return rows[0]?.has === true;
}

const INSERT_TOTP = statement(
  ['id', 'user_id', 'name', 'secret', 'encrypted', 'step'],
  `insert into user_factors (id, user_id, kind, name, secret, encrypted, last_used_step, last_used_at)
   values (:id, :user_id, 'totp', :name, :secret, :encrypted, :step, now())`,
);

/** Stores a confirmed TOTP factor; the confirming code's step counts as used. */
export async function insertTotpFactor(
  sql: Sql,
  f: { userId: string; name: string; secret: string; encrypted: boolean; step: number },
): Promise<string> {
  const id = newId();
  await sql.execute(
    INSERT_TOTP.text,
    INSERT_TOTP.values({
      id,
      user_id: f.userId,
      name: f.name,
      secret: f.secret,
      encrypted: f.encrypted,
      step: f.step,
    }),
  );
  return id;
}

const TOTP_SECRETS = statement(
  ['user_id'],
  `select id, secret, encrypted from user_factors where user_id = :user_id and kind = 'totp'`,
);

export async function totpSecretsOf(
  sql: Sql,
  userId: string,
): Promise<{ id: string; secret: string; encrypted: boolean }[]> {
  return sql.query(TOTP_SECRETS.text, TOTP_SECRETS.values({ user_id: userId }));
}

const CLAIM_STEP = statement(
  ['id', 'step'],
  `update user_factors set last_used_step = :step, last_used_at = now()
    where id = :id and kind = 'totp' and (last_used_step is null or last_used_step < :step)
   returning id`,
);

/**
 * RFC 6238 §5.2: the step a code belongs to is taken once. Of parallel submissions of the same
 * code exactly one updates the row; a code of an earlier step than one already used is refused too.
 */
export async function claimTotpStep(sql: Sql, factorId: string, step: number): Promise<boolean> {
  return (await sql.execute(CLAIM_STEP.text, CLAIM_STEP.values({ id: factorId, step }))) === 1;
}

const INSERT_CREDENTIAL = statement(
  ['id', 'user_id', 'name', 'credential_id', 'public_key', 'sign_count', 'transports', 'device_type'],
  `insert into user_factors (id, user_id, kind, name, credential_id, public_key, sign_count, transports, device_type)
   values (:id, :user_id, 'webauthn', :name, :credential_id, :public_key, :sign_count, :transports, :device_type)`,
);

export interface NewCredential {
  userId: string;
  name: string;
  credentialId: Buffer;
  publicKey: Buffer;
  signCount: number;
  transports: string[];
  deviceType: string;
}

export async function insertCredential(sql: Sql, c: NewCredential): Promise<string> {
  const id = newId();
  await sql.execute(
    INSERT_CREDENTIAL.text,
    INSERT_CREDENTIAL.values({
      id,
      user_id: c.userId,
      name: c.name,
      credential_id: c.credentialId,
      public_key: c.publicKey,
      sign_count: c.signCount,
      transports: c.transports,
      device_type: c.deviceType,
    }),
  );
  return id;
}

export interface StoredCredential {
  id: string;
  userId: string;
  credentialId: Buffer;
  publicKey: Buffer;
  signCount: number;
  transports: string[];
  deviceType: string | null;
}

interface CredentialDbRow {
  id: string;
  user_id: string;
  credential_id: Buffer;
  public_key: Buffer;
  sign_count: string;
  transports: string[] | null;
  device_type: string | null;
}

const toCredential = (r: CredentialDbRow): StoredCredential => ({
  id: r.id,
  userId: r.user_id,
  credentialId: r.credential_id,
  publicKey: r.public_key,
  signCount: Number(r.sign_count),
  transports: r.transports ?? [],
  deviceType: r.device_type,
});

const CREDENTIAL_COLUMNS = 'id, user_id, credential_id, public_key, sign_count, transports, device_type';
const CREDENTIAL_BY_ID = statement(
  ['credential_id'],
  `select ${CREDENTIAL_COLUMNS} from user_factors where credential_id = :credential_id and kind = 'webauthn'`,
);
const CREDENTIALS_OF = statement(
  ['user_id'],
  `select ${CREDENTIAL_COLUMNS} from user_factors where user_id = :user_id and kind = 'webauthn'`,
);

export async function credentialById(sql: Sql, credentialId: Buffer): Promise<StoredCredential | null> {
  const rows = await sql.query<CredentialDbRow>(
    CREDENTIAL_BY_ID.text,
    CREDENTIAL_BY_ID.values({ credential_id: credentialId }),
  );
  return rows[0] ? toCredential(rows[0]) : null;
}

export async function credentialsOf(sql: Sql, userId: string): Promise<StoredCredential[]> {
  return (
    await sql.query<CredentialDbRow>(CREDENTIALS_OF.text, CREDENTIALS_OF.values({ user_id: userId }))
  ).map(toCredential);
}

const ADVANCE_COUNTER = statement(
  ['id', 'seen', 'counter'],
  `update user_factors set sign_count = :counter, last_used_at = now()
    where id = :id and sign_count = :seen returning id`,
);

/**
 * WebAuthn L2 §7.2 step 21: the new signature counter replaces the one the verification was
 * checked against, only if no other assertion moved it meanwhile.
 */
export async function advanceCounter(sql: Sql, id: string, seen: number, counter: number): Promise<boolean> {
  return (await sql.execute(ADVANCE_COUNTER.text, ADVANCE_COUNTER.values({ id, seen, counter }))) === 1;
}

const DELETE_FACTOR = statement(
  ['id', 'user_id'],
  'delete from user_factors where id = :id and user_id = :user_id returning kind, name',
);

export async function deleteFactor(
  sql: Sql,
  userId: string,
  id: string,
): Promise<{ kind: FactorKind; name: string } | null> {
  const rows = await sql.query<{ kind: FactorKind; name: string }>(
    DELETE_FACTOR.text,
    DELETE_FACTOR.values({ id, user_id: userId }),
  );
  return rows[0] ?? null;
}

const DELETE_ALL_FACTORS = statement(['user_id'], 'delete from user_factors where user_id = :user_id');
const DELETE_CODES = statement(['user_id'], 'delete from recovery_codes where user_id = :user_id');

/** Removes every factor and recovery code of a user (an admin's reset); returns how many factors. */
export async function deleteAllFactors(sql: Sql, userId: string): Promise<number> {
  const n = await sql.execute(DELETE_ALL_FACTORS.text, DELETE_ALL_FACTORS.values({ user_id: userId }));
  await sql.execute(DELETE_CODES.text, DELETE_CODES.values({ user_id: userId }));
  return n;
}

export async function deleteRecoveryCodes(sql: Sql, userId: string): Promise<void> {
  await sql.execute(DELETE_CODES.text, DELETE_CODES.values({ user_id: userId }));
}

const INSERT_CODES = statement(
  ['ids', 'user_id', 'digests'],
  `insert into recovery_codes (id, user_id, code_digest)
   select i, :user_id, d from unnest(:ids::uuid[], :digests::bytea[]) as u(i, d)`,
);

/** Replaces a user's recovery codes with new ones (call inside a transaction). */
export async function replaceRecoveryCodes(sql: Sql, userId: string, digests: Buffer[]): Promise<void> {
  await deleteRecoveryCodes(sql, userId);
  await sql.execute(
    INSERT_CODES.text,
    INSERT_CODES.values({ ids: digests.map(() => newId()), user_id: userId, digests }),
  );
}

const USE_CODE = statement(
  ['user_id', 'digest'],
  `update recovery_codes set used_at = now()
    where user_id = :user_id and code_digest = :digest and used_at is null returning id`,
);

/** Spends a recovery code: true for exactly one of any number of parallel uses. */
export async function spendRecoveryCode(sql: Sql, userId: string, digest: Buffer): Promise<boolean> {
  return (await sql.execute(USE_CODE.text, USE_CODE.values({ user_id: userId, digest }))) === 1;
}

const CODES_LEFT = statement(
  ['user_id'],
  'select count(*)::int as n from recovery_codes where user_id = :user_id and used_at is null',
);

export async function recoveryCodesLeft(sql: Sql, userId: string): Promise<number> {
  const rows = await sql.query<{ n: number }>(CODES_LEFT.text, CODES_LEFT.values({ user_id: userId }));
  return rows[0]?.n ?? 0;
}

export type ChallengePurpose = 'register' | 'second-factor' | 'passwordless';

const INSERT_CHALLENGE = statement(
  ['digest', 'purpose', 'user_id', 'ttl'],
  `insert into webauthn_challenges (digest, purpose, user_id, expires_at)
   values (:digest, :purpose, :user_id, now() + make_interval(secs => :ttl))`,
);

export async function insertChallenge(
  sql: Sql,
  c: { digest: Buffer; purpose: ChallengePurpose; userId: string | null; ttlSeconds: number },
): Promise<void> {
  await sql.execute(
    INSERT_CHALLENGE.text,
    INSERT_CHALLENGE.values({ digest: c.digest, purpose: c.purpose, user_id: c.userId, ttl: c.ttlSeconds }),
  );
}

const TAKE_CHALLENGE = statement(
  ['digest', 'purpose'],
  `delete from webauthn_challenges where digest = :digest and purpose = :purpose
   returning user_id, expires_at > now() as live`,
);

/**
 * Takes a challenge: deleted whatever its state (an expired one is no use to anyone), answered
 * as live only if it had not expired. Null when there is none (never issued, or already taken).
 */
export async function takeChallenge(
  sql: Sql,
  digest: Buffer,
  purpose: ChallengePurpose,
): Promise<{ userId: string | null; live: boolean } | null> {
  const rows = await sql.query<{ user_id: string | null; live: boolean }>(
    TAKE_CHALLENGE.text,
    TAKE_CHALLENGE.values({ digest, purpose }),
  );
  return rows[0] ? { userId: rows[0].user_id, live: rows[0].live } : null;
}
