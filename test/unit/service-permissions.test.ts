import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Application } from '../../src/entities/Application.js';
import type { User } from '../../src/entities/User.js';
import * as account from '../../src/services/account.js';
import * as applications from '../../src/services/applications.js';
import * as audit from '../../src/services/audit.js';
import * as authorizations from '../../src/services/authorizations.js';
import { Ctx, type ServerCtx } from '../../src/services/context.js';
import { ForbiddenError, NotFoundError, UnauthenticatedError } from '../../src/services/errors.js';
import * as factors from '../../src/services/factors.js';
import * as initialAccessTokens from '../../src/services/initial-access-tokens.js';
import * as keyRotation from '../../src/services/key-rotation.js';
import * as resources from '../../src/services/resources.js';
import * as sessions from '../../src/services/sessions.js';
import * as tokenExchange from '../../src/services/token-exchange.js';
import * as tokenManagement from '../../src/services/token-management.js';
import * as totp from '../../src/services/totp.js';
import * as users from '../../src/services/users.js';
import * as webauthn from '../../src/services/webauthn.js';
import { serviceRuntime } from '../helpers/services.js';
import { clientRecord } from './fixtures.js';

/**
 * Issue 14 (every permission check inside the service that performs the action): every service
 * function a GraphQL resolver, a page or the CLI calls refuses an unprivileged caller by itself,
 * with the typed error of the API contract — so a new door calling the service cannot forget
 * the check. The table is exhaustive by construction: an export of the admin service modules,
 * or a services import of any door, that is neither a row nor listed (with its reason) in
 * NOT_ENTRY_POINTS fails the first test.
 */

type ErrorClass = typeof UnauthenticatedError | typeof ForbiddenError | typeof NotFoundError;

interface Fixture {
  alice: User; // owns the objects; not an admin
  app: Application;
  tokenId: string;
  resourceId: string;
}

interface Row {
  call(ctx: Ctx, f: Fixture): Promise<unknown>;
  anonymous: ErrorClass;
  client: ErrorClass;
  /**
   * A non-admin user (bob) acting on alice's objects: refused with this error, or — for
   * listings — answered without any of alice's objects (`hides` checks the answer).
   */
  stranger: ErrorClass | { hides(result: unknown, f: Fixture): void } | { skip: string };
}

const admin = { anonymous: UnauthenticatedError, client: ForbiddenError, stranger: ForbiddenError };
const owned = { anonymous: UnauthenticatedError, client: ForbiddenError, stranger: NotFoundError };
const signedIn = { anonymous: UnauthenticatedError, client: ForbiddenError };
const behindListing = {
  skip: 'batch load for ids a checked listing returned; fields are masked per actor by the mappers',
};
/** Acts on the caller's own account only: another user's objects are out of its reach by construction. */
const ownAccount = { ...signedIn, stranger: { skip: 'acts on the caller’s own account only' } };
const empty = {
  hides(result: unknown) {
    const list = Array.isArray(result) ? result : (result as { nodes: unknown[] }).nodes;
    expect(list).toEqual([]);
  },
};

const app = {
  name: 'Stranger app',
  clientType: 'confidential' as const,
  grantTypes: ['client_credentials' as const],
};

/** module.export → how it must refuse. */
const ENTRY_POINTS: Record<string, Row> = {
  'users.createUser': {
    ...admin,
    call: (c) => users.createUser(c, { username: 'mallory', password: 'mallory-pass' }),
  },
  'users.updateUser': { ...admin, call: (c, f) => users.updateUser(c, f.alice.id, { isAdmin: true }) },
  'users.deleteUser': { ...admin, call: (c, f) => users.deleteUser(c, f.alice.id) },
  'users.getUser': { ...admin, call: (c, f) => users.getUser(c, f.alice.id) },
  'users.findUserByUsername': { ...admin, call: (c) => users.findUserByUsername(c, 'alice') },
  'users.listUsers': { ...admin, call: (c) => users.listUsers(c, {}) },
  'users.usersByIds': {
    ...signedIn,
    stranger: behindListing,
    call: (c, f) => users.usersByIds(c, [f.alice.id]),
  },
  'applications.createApplication': {
    ...admin, // bob registering for alice: only admins register for someone else
    call: (c, f) => applications.createApplication(c, f.alice, app),
  },
  'applications.getManagedApplication': {
    ...owned,
    call: (c, f) => applications.getManagedApplication(c, f.app.id),
  },
  'applications.getManagedApplicationByClientId': {
    ...owned,
    call: (c, f) => applications.getManagedApplicationByClientId(c, f.app.clientId),
  },
  'applications.updateApplication': {
    ...owned,
    call: (c, f) => applications.updateApplication(c, f.app.id, { name: 'Taken over' }),
  },
  'applications.deleteApplication': { ...owned, call: (c, f) => applications.deleteApplication(c, f.app.id) },
  'applications.rotateClientSecret': {
    ...owned,
    call: (c, f) => applications.rotateClientSecret(c, f.app.id),
  },
  'applications.listApplications': {
    ...signedIn,
    stranger: empty,
    call: (c, f) => applications.listApplications(c, {}, { ownerId: f.alice.id }),
  },
  'applications.visibleApplications': {
    ...signedIn,
    stranger: {
      hides(where, f) {
        expect((where as { owner: string }).owner).not.toBe(f.alice.id);
      },
    },
    call: async (c, f) => applications.visibleApplications(c, { ownerId: f.alice.id }),
  },
  'applications.applicationsByIds': {
    ...signedIn,
    stranger: behindListing,
    call: (c, f) => applications.applicationsByIds(c, [f.app.id]),
  },
  'audit.listAuditEvents': { ...admin, call: (c) => audit.listAuditEvents(c, {}) },
  'key-rotation.listSigningKeys': {
    ...admin,
    // The refusal comes before the key store is touched, so this runtime without one is enough.
    call: async (c) => keyRotation.listSigningKeys(c as ServerCtx),
  },
  'key-rotation.rotateSigningKeys': { ...admin, call: (c) => keyRotation.rotateSigningKeys(c) },
  'initial-access-tokens.createInitialAccessToken': {
    ...admin,
    call: (c) => initialAccessTokens.createInitialAccessToken(c, { uses: 1 }),
  },
  'initial-access-tokens.listInitialAccessTokens': {
    ...admin,
    call: (c) => initialAccessTokens.listInitialAccessTokens(c),
  },
  'initial-access-tokens.revokeInitialAccessToken': {
    ...admin,
    call: (c) => initialAccessTokens.revokeInitialAccessToken(c, randomUUID()),
  },
  'resources.listResources': { ...admin, call: (c) => resources.listResources(c) },
  'resources.getResource': { ...admin, call: (c, f) => resources.getResource(c, f.resourceId) },
  'resources.createResource': {
    ...admin,
    call: (c) => resources.createResource(c, { identifier: 'https://mallory.example/', name: 'Mallory' }),
  },
  'resources.updateResource': {
    ...admin,
    call: (c, f) => resources.updateResource(c, f.resourceId, { identifier: 'https://mallory.example/' }),
  },
  'resources.deleteResource': { ...admin, call: (c, f) => resources.deleteResource(c, f.resourceId) },
  'authorizations.listAuthorizations': {
    ...signedIn,
    stranger: empty,
    call: (c) => authorizations.listAuthorizations(c),
  },
  'authorizations.revokeAuthorization': {
    ...owned, // bob withdrawing alice's consent: he has none to withdraw
    call: (c, f) => authorizations.revokeAuthorization(c, f.app.id),
  },
  'token-management.listTokens': {
    ...signedIn,
    stranger: empty,
    call: (c, f) => tokenManagement.listTokens(c, {}, { applicationId: f.app.id }),
  },
  'token-management.getToken': { ...owned, call: (c, f) => tokenManagement.getToken(c, f.tokenId) },
  'token-management.revokeTokenById': {
    ...owned,
    call: (c, f) => tokenManagement.revokeTokenById(c, f.tokenId),
  },
  'token-management.revokeTokensMatching': {
    ...signedIn,
    stranger: {
      hides(count) {
        expect(count).toBe(0);
      },
    },
    call: (c, f) => tokenManagement.revokeTokensMatching(c, { applicationId: f.app.id }),
  },
  'token-management.activeTokenCounts': {
    ...signedIn,
    stranger: behindListing,
    call: (c, f) => tokenManagement.activeTokenCounts(c, [f.app.id]),
  },
  // Issue 18: second factors.
  'factors.listFactors': { ...owned, call: (c, f) => factors.listFactors(c, f.alice.id) },
  'factors.removeFactor': { ...owned, call: (c) => factors.removeFactor(c, randomUUID()) },
  'factors.resetFactors': { ...admin, call: (c, f) => factors.resetFactors(c, f.alice.id) },
  'factors.regenerateRecoveryCodes': { ...ownAccount, call: (c) => factors.regenerateRecoveryCodes(c) },
  'factors.recoveryCodesRemaining': { ...ownAccount, call: (c) => factors.recoveryCodesRemaining(c) },
  'totp.startTotpEnrollment': { ...ownAccount, call: async (c) => totp.startTotpEnrollment(c) },
  'totp.totpUri': { ...ownAccount, call: async (c) => totp.totpUri(c, 'A'.repeat(32)) },
  'totp.confirmTotp': {
    ...ownAccount,
    call: (c) => totp.confirmTotp(c, { secret: 'A'.repeat(32), code: '123456' }),
  },
  'webauthn.passkeyRegistrationOptions': {
    ...ownAccount,
    call: (c) => webauthn.passkeyRegistrationOptions(c),
  },
  'webauthn.registerPasskey': {
    ...ownAccount,
    call: (c) => webauthn.registerPasskey(c, { credential: '{}' }),
  },
  'account.changeOwnPassword': {
    ...ownAccount,
    call: (c) =>
      account.changeOwnPassword(c, { current: 'x', next: 'new-password', confirm: 'new-password' }),
  },
  'sessions.recentSignIns': { ...ownAccount, call: (c) => sessions.recentSignIns(c) },
  // Issue 20: RFC 8693 token exchange acts only for the application that authenticated on the request.
  'token-exchange.exchangeToken': {
    anonymous: ForbiddenError,
    client: ForbiddenError,
    stranger: ForbiddenError,
    call: (c) =>
      tokenExchange.exchangeToken(c as ServerCtx, clientRecord({ clientId: 'another-client' }), {
        subjectToken: 'x',
        subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token',
        actorToken: null,
        actorTokenType: null,
        target: null,
        scopes: undefined,
        requestedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
        jkt: null,
      }),
  },
};

/** What doors import from src/services that is not an actor's entry point, and why. */
const NOT_ENTRY_POINTS: Record<string, string> = {
  // Decide nothing and touch no data.
  'access.*': 'the permission predicates themselves',
  'errors.*': 'error classes',
  'context.Ctx': 'the request context class',
  'key-crypto.KeyEncryptionError': 'error class',
  'pagination.pageBound': 'pure: page-size arithmetic',
  'secrets.constantTimeEqual': 'pure',
  'secrets.randomString': 'pure',
  'limits.limitAddress': 'pure: the address a brute-force counter is kept for',
  'applications.GRANT_TYPES': 'vocabulary',
  'applications.TOKEN_ENDPOINT_AUTH_METHODS': 'vocabulary',
  'applications.defaultApplicationScopes': 'pure: a list from the configured scopes',
  'device-codes.formatUserCode': 'pure',
  'device-codes.normaliseUserCode': 'pure',
  'resources.ResourceCache': 'protocol: the token endpoint’s cache of registered resources (no actor)',
  // Establish who the actor is: anonymous by nature.
  'login.authenticate': 'authentication: the login form',
  'users.verifyCredentials': 'authentication: login form and password grant',
  'sessions.startSession': 'authentication: after a successful login',
  'sessions.findSession': 'authentication: cookie → actor',
  'sessions.endSession': 'authentication: logout of the cookie’s own session',
  'sessions.endSessionsIn':
    'internal: on the transaction of a service that ended sessions after its own check (logout, password, user admin)',
  'sessions.afterSessionsEnded': 'internal: wakes the back-channel logout worker after such a transaction',
  'tokens.findAccessToken': 'authentication: bearer token → actor',
  'limits.limitedAttempt': 'brute-force limiter around authentication steps',
  'login.userForLogin': 'authentication: the user a passkey or a pending two-step login names',
  'factors.userHasFactor':
    'authentication: does the login need a second step (login, step-up, admin warning)',
  'factors.redeemRecoveryCode': 'authentication: the second step of a pending login, under its limit',
  'factors.limitedSecondFactor': 'brute-force limiter around second-factor checks',
  'factors.issueRecoveryCodes':
    'internal: on the transaction of a first factor’s enrollment, after its check',
  'factors.mfaRequiredFor': 'pure: the MFA_REQUIRED policy',
  'users.checkPassword': 'pure: the password rule',
  'totp.verifyTotpLogin': 'authentication: the second step of a pending login, under its limit',
  'totp.secondFactorMessage': 'pure: a sentence',
  'webauthn.passkeyLoginOptions': 'authentication: a challenge for signing in (passwordless or second step)',
  'webauthn.verifyPasskeyLogin': 'authentication: a passkey assertion',
  // Protocol steps: the user is the session's, the client is authenticated by the protocol door.
  'device-codes.findPendingByUserCode': 'protocol: RFC 8628 §3.3 user-code entry (logged-in page)',
  'device-codes.decideDeviceCode': 'protocol: RFC 8628 §3.3 approval by the logged-in user',
  // Internal to services, after their own check.
  'audit.recordAudit': 'internal: written by services after their check',
  // Maintenance without an actor: the server's own timer and the CLI on the machine.
  'cleanup.deleteExpired': 'maintenance: deletes expired rows only',
  'token-exchange.mayActPermits': 'pure: RFC 8693 §4.4 may_act against a party',
  'token-exchange.actDepth': 'pure: the length of an act chain',
};

const ADMIN_MODULES: Record<string, Record<string, unknown>> = {
  users,
  applications,
  audit,
  authorizations,
  'key-rotation': keyRotation,
  'initial-access-tokens': initialAccessTokens,
  resources,
  'token-management': tokenManagement,
  'token-exchange': tokenExchange,
  factors,
  totp,
  webauthn,
  account,
  sessions,
};

function classified(key: string): boolean {
  const [mod] = key.split('.');
  return key in ENTRY_POINTS || key in NOT_ENTRY_POINTS || `${mod}.*` in NOT_ENTRY_POINTS;
}

/** Value imports from src/services in every file of the doors (GraphQL, pages, CLI). */
function doorImports(): string[] {
  const found = new Set<string>();
  for (const dir of ['src/graphql', 'src/web', 'src/cli']) {
    for (const file of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts')) continue;
      const text = fs.readFileSync(path.join(dir, file), 'utf8');
      for (const m of text.matchAll(
        /import\s+(type\s+)?\{([^}]*)\}\s+from\s+'(?:\.\.\/)+services\/([\w-]+)\.js'/g,
      )) {
        if (m[1]) continue;
        for (const raw of m[2].split(',')) {
          const name = raw.trim();
          if (name && !name.startsWith('type ')) found.add(`${m[3]}.${name.split(/\s+as\s+/)[0]}`);
        }
      }
    }
  }
  return [...found].sort();
}

let env: Awaited<ReturnType<typeof serviceRuntime>>;
let f: Fixture;
let bob: User;

beforeAll(async () => {
  env = await serviceRuntime();
  const cli = env.ctx();
  const alice = await users.createUser(cli, { username: 'alice', password: 'alice-pass' });
  bob = await users.createUser(env.ctx(), { username: 'bob', password: 'bob-pass1' });
  const created = await applications.createApplication(env.ctx(), alice, {
    name: 'Alice app',
    clientType: 'confidential',
    grantTypes: ['authorization_code'],
    redirectUris: ['https://alice.example.com/cb'],
  });
  const sql = env.runtime.db.sql;
  const tokenId = randomUUID();
  await sql.execute(
    `insert into access_tokens (id, token_digest, application_id, user_id, scopes, expires_at)
     values ($1, $2, $3, $4, '{read}', now() + interval '1 hour')`,
    [tokenId, randomBytes(32), created.application.id, alice.id],
  );
  await sql.execute(
    `insert into grants (id, user_id, application_id, scopes) values ($1, $2, $3, '{read}')`,
    [randomUUID(), alice.id, created.application.id],
  );
  const resource = await resources.createResource(env.ctx(), {
    identifier: 'https://api.example/',
    name: 'API',
  });
  f = { alice, app: created.application, tokenId, resourceId: resource.id };
});
afterAll(() => env.close());

function as(actor: Ctx['actor']): Ctx {
  const ctx = new Ctx(env.runtime);
  ctx.actor = actor;
  return ctx;
}

const callers = {
  anonymous: () => as({ kind: 'anonymous' }),
  client: () => as({ kind: 'client', clientId: f.app.clientId }),
  stranger: () =>
    as({
      kind: 'user',
      user: { id: bob.id, username: bob.username, isAdmin: false, isActive: true },
      via: 'bearer',
    }),
};

const OBJECT_TABLES = [
  'users',
  'applications',
  'access_tokens',
  'refresh_tokens',
  'grants',
  'sessions',
  'resources',
  'user_factors',
  'recovery_codes',
  'webauthn_challenges',
];

/** The rows of the given tables: a refusal leaves all of them (and the audit trail) as they were. */
async function snapshot(tables: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    tables.map((t) =>
      env.runtime.db.sql.query<{ h: string | null }>(
        `select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from ${t} x`,
      ),
    ),
  );
  return parts.map((p, i) => `${tables[i]}:${p[0].h}`).join(' ');
}

describe('Issue 14: every permission check inside the service (OWASP ASVS V8.2.1, V8.3.1: deny by default at the service layer)', () => {
  it('the table is exhaustive: every export of the admin services and every services import of GraphQL, pages and CLI is a checked entry point or listed with its reason', () => {
    const missing: string[] = [];
    for (const [mod, exports] of Object.entries(ADMIN_MODULES)) {
      for (const [name, value] of Object.entries(exports)) {
        if (typeof value === 'function' && !classified(`${mod}.${name}`)) missing.push(`${mod}.${name}`);
      }
    }
    const imports = doorImports();
    expect(imports.length).toBeGreaterThan(20); // the scan does find the doors' imports
    for (const key of imports) if (!classified(key)) missing.push(`${key} (imported by a door)`);
    expect(missing, 'add a row to ENTRY_POINTS (or a reason to NOT_ENTRY_POINTS)').toEqual([]);
    for (const key of Object.keys(ENTRY_POINTS)) {
      const [mod, name] = key.split('.');
      expect(typeof ADMIN_MODULES[mod]?.[name], `${key} is exported`).toBe('function');
    }
  });

  for (const [name, row] of Object.entries(ENTRY_POINTS)) {
    for (const caller of ['anonymous', 'client', 'stranger'] as const) {
      const expected = row[caller];
      if (typeof expected === 'object' && 'skip' in expected) continue; // reason in the row
      const title =
        typeof expected === 'function'
          ? `${name} refuses the ${caller} caller with ${expected.name} and changes nothing`
          : `${name} answers the ${caller} caller without any of another user’s objects and changes nothing`;
      // A listing's answer is bob's own action and may be audited; alice's objects stay as they were.
      const tables = typeof expected === 'function' ? [...OBJECT_TABLES, 'audit_events'] : OBJECT_TABLES;
      it(title, async () => {
        const before = await snapshot(tables);
        if (typeof expected === 'function') {
          const err = await row.call(callers[caller](), f).then(
            () => 'no error',
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(expected);
        } else {
          expected.hides(await row.call(callers[caller](), f), f);
        }
        expect(await snapshot(tables)).toBe(before);
      });
    }
  }

  it('RFC 7592 / issue 15: the registration actor (holder of one registration access token) reaches no other application and registers nothing outside the registration endpoint', async () => {
    const reg = () => as({ kind: 'registration', clientId: 'some-other-client' });
    const before = await snapshot([...OBJECT_TABLES, 'audit_events']);
    await expect(applications.getManagedApplication(reg(), f.app.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(applications.updateApplication(reg(), f.app.id, { name: 'x' })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(applications.deleteApplication(reg(), f.app.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(applications.createApplication(reg(), undefined, app)).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    await expect(applications.listApplications(reg(), {})).rejects.toBeInstanceOf(ForbiddenError);
    await expect(initialAccessTokens.createInitialAccessToken(reg(), {})).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    expect(await snapshot([...OBJECT_TABLES, 'audit_events'])).toBe(before);
  });

  it('the owner and the CLI are let through by the same entry points (the refusals above are not blanket failures)', async () => {
    const aliceCtx = as({
      kind: 'user',
      user: { id: f.alice.id, username: 'alice', isAdmin: false, isActive: true },
      via: 'bearer',
    });
    expect((await applications.getManagedApplication(aliceCtx, f.app.id)).id).toBe(f.app.id);
    expect((await tokenManagement.getToken(aliceCtx, f.tokenId)).id).toBe(f.tokenId);
    expect((await authorizations.listAuthorizations(aliceCtx)).map((a) => a.applicationId)).toEqual([
      f.app.id,
    ]);
    expect((await users.getUser(env.ctx(), f.alice.id)).username).toBe('alice');
    expect((await users.usersByIds(aliceCtx, [f.alice.id])).size).toBe(1);
  });
});
