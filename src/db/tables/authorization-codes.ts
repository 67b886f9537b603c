import { newId } from '../../entities/base.js';
import type { Sql } from '../sql.js';
import type { AccessTokenToStore } from './access-tokens.js';
import { grantActive, grantCovers, MERGE_INTO_ACTIVE_GRANT, resourceHeld, touchGrant } from './grants.js';
import {
  type RefreshTokenToStore,
  TOKEN_PAIR_PARAMS,
  tokenPairFrom,
  tokenPairValues,
} from './refresh-tokens.js';
import { recordSignIn } from './session-applications.js';
import { LIVE_SESSION, LIVE_SESSION_PARAMS } from './sessions.js';
import { statement } from './statement.js';
import { userEnabled } from './users.js';

const CODE_COLUMNS = `id, code_digest, application_id, user_id, grant_id, redirect_uri, scopes,
       code_challenge, code_challenge_method, nonce, auth_time, amr, sid, expires_at, resources, dpop_jkt`;

/** What the authorization request binds a new code to. */
export interface CodeBinding {
  applicationId: string;
  redirectUri: string | null;
  scopes: string[];
  /** The resources (RFC 8707) the request named; the grant records them too. */
  resources: string[];
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | 'plain' | null;
  nonce: string | null;
  /** RFC 9449 §10: the `dpop_jkt` the request named; the redemption's proof key must match. */
  dpopJkt: string | null;
  ttlSeconds: number;
}

const BINDING_PARAMS = [
  'id',
  'code_digest',
  'grant_id',
  'application_id',
  'redirect_uri',
  'scopes',
  'resources',
  'code_challenge',
  'code_challenge_method',
  'nonce',
  'ttl',
  'dpop_jkt',
] as const;

function bindingValues(codeDigest: Buffer, b: CodeBinding) {
  return {
    id: newId(),
    code_digest: codeDigest,
    grant_id: newId(),
    application_id: b.applicationId,
    redirect_uri: b.redirectUri,
    scopes: b.scopes,
    resources: b.resources,
    code_challenge: b.codeChallenge,
    code_challenge_method: b.codeChallengeMethod,
    nonce: b.nonce,
    ttl: b.ttlSeconds,
    dpop_jkt: b.dpopJkt,
  };
}

/**
 * Three CTEs ending in `grant_row`, the grant a new code hangs under: the user's active grant if
 * it covers the scopes (grantCovers, the page path's consent rule too), otherwise — when
 * `mayRecord` holds — the consent recorded now (merged into the active grant).
 */
function grantForCode(user: string, from: string | null, mayRecord: string): string {
  return `
     existing as (
       select g.id from grants g${from ? `, ${from}` : ''}
        where g.user_id = ${user} and g.application_id = :application_id
          and ${grantActive('g')} and ${grantCovers('g', ':scopes', ':resources')}),
     added as (
       insert into grants as g (id, user_id, application_id, scopes, resources, last_used_at)
       select :grant_id, ${user}, :application_id, :scopes, :resources, now()${from ? ` from ${from}` : ''}
        where ${mayRecord} and not exists (select 1 from existing)
       ${MERGE_INTO_ACTIVE_GRANT}
       returning id),
     grant_row as (select id from existing union all select id from added)`;
}

const CREATE = statement(
  [...BINDING_PARAMS, 'user_id', 'auth_time', 'amr', 'sid'],
  `with ${grantForCode(':user_id::uuid', null, 'true')},
   ${recordSignIn('s.id', 's.absolute_expires_at', 'sessions s', 's.id = :sid::uuid')}
   insert into authorization_codes (${CODE_COLUMNS})
   select :id, :code_digest, :application_id, :user_id, grant_row.id, :redirect_uri, :scopes, :code_challenge,
          :code_challenge_method, :nonce, :auth_time, :amr::text[], :sid, now() + make_interval(secs => :ttl), :resources, :dpop_jkt
     from grant_row limit 1`,
);

/**
 * Records the consent (the user's grant gains the scopes, unless it already covers them) and
 * stores a new code under it — one statement (the page path, after login and consent). The
 * session the code carries (`sid`) is recorded as signed in to the application, for
 * back-channel logout.
 */
export async function insertCode(
  sql: Sql,
  codeDigest: Buffer,
  binding: CodeBinding,
  holder: { userId: string; authTime: Date; amr: readonly string[]; sid: string | null },
): Promise<void> {
  await sql.execute(
    CREATE.text,
    CREATE.values({
      ...bindingValues(codeDigest, binding),
      user_id: holder.userId,
      auth_time: holder.authTime,
      amr: [...holder.amr],
      sid: holder.sid,
    }),
  );
}

const CREATE_FOR_SESSION = statement(
  [...BINDING_PARAMS, ...LIVE_SESSION_PARAMS, 'skip_consent'],
  `with ${LIVE_SESSION},
   ${grantForCode('live_session.user_id', 'live_session', ':skip_consent::boolean')},
   ${recordSignIn('live_session.id', 'live_session.absolute_expires_at', 'live_session, grant_row')}
   insert into authorization_codes (${CODE_COLUMNS})
   select :id, :code_digest, :application_id, live_session.user_id, grant_row.id, :redirect_uri, :scopes,
          :code_challenge, :code_challenge_method, :nonce, live_session.auth_time, live_session.amr, live_session.id,
          now() + make_interval(secs => :ttl), :resources, :dpop_jkt
     from live_session, grant_row limit 1
   returning id`,
);

/**
 * The fast path in one statement: the session the cookie names is live (LIVE_SESSION, the rule
 * the pages use), consent is not needed (the application skips it, or an active grant covers
 * the scopes — the rule the consent page uses), and the code is stored, the session recorded as
 * signed in to the application (back-channel logout). False when any of that does not hold.
 */
export async function insertCodeForSession(
  sql: Sql,
  codeDigest: Buffer,
  binding: CodeBinding,
  session: { digest: Buffer; idleTimeout: number; skipConsent: boolean },
): Promise<boolean> {
  const rows = await sql.query<{ id: string }>(
    CREATE_FOR_SESSION.text,
    CREATE_FOR_SESSION.values({
      ...bindingValues(codeDigest, binding),
      session_digest: session.digest,
      idle_timeout: session.idleTimeout,
      skip_consent: session.skipConsent,
    }),
  );
  return rows.length === 1;
}

/**
 * Every rule a redemption must satisfy, each a condition on the code `ac`, in the order a
 * failure is explained. The redemption statement requires all of them; the diagnostic read
 * selects each as a column — so the explanation cannot disagree with the decision.
 */
const REDEMPTION_RULES = {
  for_client: 'ac.application_id = :application_id',
  unused: 'ac.consumed_at is null',
  unexpired: 'ac.expires_at > now()',
  redirect_uri_matches: '(ac.redirect_uri is null or ac.redirect_uri = :redirect_uri::text)',
  // RFC 7636 §4.6 and OAuth 2.1 §4.1.3: a challenge needs its verifier; no challenge, no verifier.
  pkce_matches: `((ac.code_challenge is null and :s256::text is null)
       or ac.code_challenge = case ac.code_challenge_method when 'S256' then :s256::text else :plain::text end)`,
  grant_active: `exists (select 1 from grants g where g.id = ac.grant_id and ${grantActive('g')})`,
  user_enabled: `exists (select 1 from users u where u.id = ac.user_id and ${userEnabled('u')})`,
  // RFC 8707: the token's resource is one the authorization request named.
  resource_held: resourceHeld('ac.resources', ':audience'),
  // RFC 9449 §10: a code bound with dpop_jkt is redeemed only with a proof of that key.
  dpop_key_matches: '(ac.dpop_jkt is null or ac.dpop_jkt = :proof_jkt::text)',
} as const;

export type RedemptionRule = keyof typeof REDEMPTION_RULES;
export const REDEMPTION_RULE_NAMES = Object.keys(REDEMPTION_RULES) as RedemptionRule[];

const REDEMPTION_PARAMS = [
  'code_digest',
  'application_id',
  'redirect_uri',
  's256',
  'plain',
  'audience',
  'proof_jkt',
] as const;

/** What the token request presents against the code. */
export interface Redemption {
  codeDigest: Buffer;
  applicationId: string;
  /** The redirect_uri of the token request (null when absent). */
  redirectUri: string | null;
  /** What the stored challenge must equal: S256(verifier) for S256 codes, the verifier for plain. */
  s256: string | null;
  plain: string | null;
  /** The resource (RFC 8707) the token request names, or null. */
  audience: string | null;
  /** The thumbprint of the token request's DPoP proof key, or null without a proof. */
  proofJkt: string | null;
}

function redemptionValues(r: Redemption) {
  return {
    audience: r.audience,
    code_digest: r.codeDigest,
    application_id: r.applicationId,
    redirect_uri: r.redirectUri,
    s256: r.s256,
    plain: r.plain,
    proof_jkt: r.proofJkt,
  };
}

export interface RedeemedCode {
  id: string;
  userId: string;
  grantId: string;
  scopes: string[];
  resources: string[];
  nonce: string | null;
  authTime: Date;
  /** RFC 8176 methods of the session the code was issued in (null: issued before they were kept). */
  amr: string[] | null;
  sid: string | null;
}

interface CodeDbRow {
  id: string;
  user_id: string;
  grant_id: string;
  scopes: string[];
  resources: string[];
  nonce: string | null;
  auth_time: Date;
  amr: string[] | null;
  sid: string | null;
}

const CODE_FIELDS =
  'ac.id, ac.application_id, ac.user_id, ac.grant_id, ac.scopes, ac.resources, ac.nonce, ac.auth_time, ac.amr, ac.sid';

function toRedeemedCode(r: CodeDbRow): RedeemedCode {
  return {
    id: r.id,
    userId: r.user_id,
    grantId: r.grant_id,
    scopes: r.scopes,
    resources: r.resources,
    nonce: r.nonce,
    authTime: r.auth_time,
    amr: r.amr,
    sid: r.sid,
  };
}

const REDEEM = statement(
  [...REDEMPTION_PARAMS, ...TOKEN_PAIR_PARAMS],
  `with c as (
     update authorization_codes ac set consumed_at = now()
      where ac.code_digest = :code_digest
        and ${Object.values(REDEMPTION_RULES).join('\n        and ')}
     returning ${CODE_FIELDS}),
   ${tokenPairFrom('c')},
   ${touchGrant('c')}
   select * from c`,
);

/**
 * The whole redemption in one statement: the code is consumed only if every REDEMPTION_RULES
 * holds, and the tokens are written in the same statement (the conditional UPDATE makes the code
 * single-use under any concurrency). Null when any rule fails.
 */
export async function redeemCode(
  sql: Sql,
  r: Redemption,
  access: AccessTokenToStore,
  refresh: RefreshTokenToStore | null,
  refreshTtl: number,
): Promise<RedeemedCode | null> {
  const rows = await sql.query<CodeDbRow>(
    REDEEM.text,
    REDEEM.values({ ...redemptionValues(r), ...tokenPairValues(access, refresh, refreshTtl) }),
  );
  return rows[0] ? toRedeemedCode(rows[0]) : null;
}

/** A code as the token request sees it: each rule's verdict, and what explaining one needs. */
export interface CodeDiagnosis {
  code: RedeemedCode;
  /** The first rule that fails, in REDEMPTION_RULES order; null when the code is redeemable. */
  failed: RedemptionRule | null;
  /** The authorization request carried a redirect_uri / a code_challenge. */
  hadRedirectUri: boolean;
  hadChallenge: boolean;
}

const DIAGNOSE = statement(
  REDEMPTION_PARAMS,
  `select ${CODE_FIELDS}, ac.redirect_uri is not null as had_redirect_uri, ac.code_challenge is not null as had_challenge,
          ${Object.entries(REDEMPTION_RULES)
            .map(([name, rule]) => `coalesce(${rule}, false) as ${name}`)
            .join(',\n          ')}
     from authorization_codes ac
    where ac.code_digest = :code_digest`,
);

/** Reads the code and evaluates every redemption rule on it (null: no such code). */
export async function diagnoseCode(sql: Sql, r: Redemption): Promise<CodeDiagnosis | null> {
  const rows = await sql.query<
    CodeDbRow & Record<RedemptionRule, boolean> & { had_redirect_uri: boolean; had_challenge: boolean }
  >(DIAGNOSE.text, DIAGNOSE.values(redemptionValues(r)));
  const row = rows[0];
  if (!row) return null;
  return {
    code: toRedeemedCode(row),
    failed: REDEMPTION_RULE_NAMES.find((rule) => !row[rule]) ?? null,
    hadRedirectUri: row.had_redirect_uri,
    hadChallenge: row.had_challenge,
  };
}
