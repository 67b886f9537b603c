import type { FilterQuery } from '@mikro-orm/core';
import {
  type AccessTokenFormat,
  Application,
  type ClientJwks,
  type ClientType,
  type GrantType,
  type SigningAlg,
  type TokenEndpointAuthMethod,
} from '../entities/Application.js';
import { isUuid } from '../entities/base.js';
import { User } from '../entities/User.js';
import {
  ADMIN_ONLY_SCOPES,
  APPLICATION_PROFILES,
  type ApplicationProfile,
  FAPI2_SIGNING_ALGS,
  GRANT_TYPES,
  PRIVILEGED_SCOPES,
  SECRET_AUTH_METHODS,
  SIGNING_ALGS,
  TOKEN_ENDPOINT_AUTH_METHODS,
  TOKEN_EXCHANGE_GRANT,
} from '../vocabulary.js';
import { canManage, isPrivileged, requireUser, requireUserOrCli } from './access.js';
import { recordAudit } from './audit.js';
import { clientChanged } from './client-cache.js';
import { checkClientJwks } from './client-jwks.js';
import type { Ctx } from './context.js';
import {
  ConflictError,
  ForbiddenError,
  IssueCollector,
  isUniqueViolation,
  NotFoundError,
  ValidationError,
} from './errors.js';
import { findPage, ilikeContains, type Page, type PageArgs } from './pagination.js';
import { digest, newClientId, newCredential } from './secrets.js';
import {
  checkBackchannelLogoutUri,
  checkContact,
  checkGrantTypes,
  checkHttpsUri,
  checkList,
  checkName,
  checkOrigin,
  checkRedirectUri,
  checkScopes,
} from './validators.js';

export interface ApplicationInput {
  name: string;
  clientType: ClientType;
  grantTypes: GrantType[];
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  allowedOrigins?: string[];
  scopes?: string[];
  skipAuthorization?: boolean;
  /** RFC 9449: every token request must carry a DPoP proof. */
  requireDpop?: boolean;
  accessTokenFormat?: AccessTokenFormat;
  idTokenSignedResponseAlg?: SigningAlg;
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** RFC 7591 §2 presentation metadata, self-asserted by a registering client (null clears). */
  clientUri?: string | null;
  logoUri?: string | null;
  contacts?: string[];
  /**
   * RFC 7591 §2 `jwks` (a JWK Set, as parsed JSON: checked here) or `jwks_uri`: the public keys of a
   * `private_key_jwt` client (RFC 7523). Kept only for that method; null clears.
   */
  jwks?: unknown;
  jwksUri?: string | null;
  /** RFC 9126 §6: refuse authorization requests that were not pushed (PAR). */
  requirePar?: boolean;
  /** `fapi2` holds the application to the FAPI 2.0 Security Profile (fapi2Bounds). */
  profile?: ApplicationProfile;
  rotateRefreshTokens?: boolean;
  /** RFC 8693 policy (administrators widen it): the resources an exchange may target. */
  tokenExchangeAudiences?: string[];
  /** RFC 8693: exchanges without actor_token (impersonation) are allowed. */
  tokenExchangeImpersonation?: boolean;
  /** RFC 8693 §2.2.1: an exchange may return a refresh token. */
  tokenExchangeRefreshTokens?: boolean;
  /** OpenID Connect Back-Channel Logout 1.0 §2.2: where logout tokens go; null or '' clears. */
  backchannelLogoutUri?: string | null;
  /** §2.2: the application needs `sid` in logout tokens (Latchkey always sends it). */
  backchannelLogoutSessionRequired?: boolean;
}

export type ApplicationUpdate = Partial<ApplicationInput>;

export interface CreatedApplication {
  application: Application;
  /** Shown once; null for public clients. */
  clientSecret: string | null;
}

/** Scopes a new application may request when none are given: all but the administrative ones. */
export function defaultApplicationScopes(known: Readonly<Record<string, string>>): string[] {
  return Object.keys(known).filter((s) => !PRIVILEGED_SCOPES.includes(s));
}

interface Normalised {
  name: string;
  clientType: ClientType;
  grantTypes: GrantType[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  allowedOrigins: string[];
  scopes: string[];
  skipAuthorization: boolean;
  requireDpop: boolean;
  accessTokenFormat: AccessTokenFormat;
  idTokenSignedResponseAlg: SigningAlg;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  clientUri: string | null;
  logoUri: string | null;
  contacts: string[];
  jwks: ClientJwks | null;
  jwksUri: string | null;
  requirePar: boolean;
  profile: ApplicationProfile;
  rotateRefreshTokens: boolean;
  tokenExchangeAudiences: string[];
  tokenExchangeImpersonation: boolean;
  tokenExchangeRefreshTokens: boolean;
  backchannelLogoutUri: string | null;
  backchannelLogoutSessionRequired: boolean;
}

/**
 * Every rule about application metadata, applied to the complete new state. Every broken rule
 * is reported at once, in one ValidationError.
 */
function normalise(
  ctx: Ctx,
  input: ApplicationInput,
  registered: ReadonlySet<string>,
  previous?: Application,
): Normalised {
  const issues = new IssueCollector();
  const name = issues.check(() => checkName(input.name), input.name);
  const clientType = input.clientType;
  if (clientType !== 'confidential' && clientType !== 'public') {
    issues.add('clientType', 'Client type must be confidential or public.');
  } else if (previous?.clientType === 'public' && clientType === 'confidential') {
    issues.add(
      'clientType',
      'A public client cannot become confidential: register a new application to get a secret.',
    );
  }
  const grantTypes = unique(input.grantTypes);
  for (const g of grantTypes) {
    if (!GRANT_TYPES.includes(g)) issues.add('grantTypes', `Unknown grant type "${String(g)}".`);
  }
  const redirectUris = issues.check(
    () => checkList(input.redirectUris ?? [], 'redirectUris', checkRedirectUri, 'redirect URIs'),
    [],
  );
  const postLogoutRedirectUris = issues.check(
    () =>
      checkList(
        input.postLogoutRedirectUris ?? [],
        'postLogoutRedirectUris',
        checkRedirectUri,
        'post-logout redirect URIs',
      ),
    [],
  );
  const allowedOrigins = issues.check(
    () => checkList(input.allowedOrigins ?? [], 'allowedOrigins', checkOrigin, 'allowed origins'),
    [],
  );
  // Invalid redirect URIs are already reported; do not also claim that there are none.
  const uriCount = issues.has('redirectUris') ? (input.redirectUris ?? []) : redirectUris;
  issues.check(() => checkGrantTypes(clientType, grantTypes, uriCount), undefined);
  const scopes =
    input.scopes === undefined
      ? defaultApplicationScopes(ctx.config.scopes)
      : issues.check(() => checkScopes(input.scopes ?? [], ctx.config.scopes), null);
  if (scopes?.length === 0) issues.add('scopes', 'Choose at least one scope.');
  const adminOnly = (scopes ?? []).filter(
    (s) => ADMIN_ONLY_SCOPES.includes(s) && !(previous?.scopes.includes(s) ?? false),
  );
  if (adminOnly.length > 0 && !isPrivileged(ctx)) {
    issues.add(
      'scopes',
      `Only administrators can give an application the ${adminOnly.map((s) => `"${s}"`).join(', ')} scope.`,
    );
  }
  const skipAuthorization = input.skipAuthorization ?? false;
  if (ctx.actor.kind === 'registration') registrationBounds(issues, clientType, grantTypes, scopes ?? []);
  if (skipAuthorization && !(previous?.skipAuthorization ?? false) && !isPrivileged(ctx)) {
    issues.add('skipAuthorization', 'Only administrators can let an application skip the consent page.');
  }
  const accessTokenFormat = input.accessTokenFormat ?? 'opaque';
  if (accessTokenFormat !== 'opaque' && accessTokenFormat !== 'jwt') {
    issues.add('accessTokenFormat', 'Access token format must be opaque or jwt.');
  }
  const profile = input.profile ?? 'none';
  if (!APPLICATION_PROFILES.includes(profile)) {
    issues.add('profile', `Profile must be one of ${APPLICATION_PROFILES.join(', ')}.`);
  }
  const idTokenSignedResponseAlg =
    input.idTokenSignedResponseAlg ?? (profile === 'fapi2' ? 'PS256' : 'RS256');
  if (!SIGNING_ALGS.includes(idTokenSignedResponseAlg)) {
    issues.add('idTokenSignedResponseAlg', `id_token algorithm must be one of ${SIGNING_ALGS.join(', ')}.`);
  }
  let tokenEndpointAuthMethod = input.tokenEndpointAuthMethod;
  if (tokenEndpointAuthMethod != null && !TOKEN_ENDPOINT_AUTH_METHODS.includes(tokenEndpointAuthMethod)) {
    issues.add(
      'tokenEndpointAuthMethod',
      `Client authentication must be ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}.`,
    );
  }
  if (clientType === 'public') {
    if (tokenEndpointAuthMethod != null && tokenEndpointAuthMethod !== 'none') {
      issues.add('tokenEndpointAuthMethod', 'A public client authenticates with "none".');
    }
    tokenEndpointAuthMethod = 'none';
  } else {
    if (tokenEndpointAuthMethod === 'none') {
      issues.add(
        'tokenEndpointAuthMethod',
        'A confidential client must authenticate with its secret or keys.',
      );
    }
    tokenEndpointAuthMethod ??= 'client_secret_basic';
  }
  const keys = clientKeys(issues, tokenEndpointAuthMethod, input);
  const optionalUri = (value: string | null | undefined, field: string) =>
    value == null ? null : issues.check(() => checkHttpsUri(value, field), null);
  const clientUri = optionalUri(input.clientUri, 'clientUri');
  const logoUri = optionalUri(input.logoUri, 'logoUri');
  const contacts = issues.check(
    () => checkList(input.contacts ?? [], 'contacts', checkContact, 'contacts'),
    [],
  );
  const backchannelLogoutUri =
    input.backchannelLogoutUri == null || input.backchannelLogoutUri.trim() === ''
      ? null
      : issues.check(
          () =>
            checkBackchannelLogoutUri(input.backchannelLogoutUri!, ctx.config.outbound.allowPrivateNetwork),
          null,
        );
  const values: Normalised = {
    ...keys,
    backchannelLogoutUri,
    backchannelLogoutSessionRequired: input.backchannelLogoutSessionRequired === true,
    requirePar: input.requirePar ?? false,
    profile,
    rotateRefreshTokens: input.rotateRefreshTokens ?? true,
    ...tokenExchangePolicy(ctx, issues, input, grantTypes, registered, previous),
    clientUri,
    logoUri,
    contacts,
    name,
    clientType,
    grantTypes,
    redirectUris,
    postLogoutRedirectUris,
    allowedOrigins,
    scopes: scopes ?? [],
    skipAuthorization,
    requireDpop: input.requireDpop === true,
    accessTokenFormat,
    idTokenSignedResponseAlg,
    tokenEndpointAuthMethod,
  };
  if (profile === 'fapi2') fapi2Bounds(issues, values);
  issues.throwIfAny();
  return values;
}

/** The most audiences one application's token exchange policy lists. */
const MAX_EXCHANGE_AUDIENCES = 20;

/**
 * RFC 8693 policy: the audiences are registered resources (RFC 8707 identifiers), the settings
 * need the token_exchange grant (and refresh tokens the refresh_token grant), and only an
 * administrator widens them — an exchange mints tokens for other APIs from a user's consent to
 * this application, so who may do that is the server's decision, like skipping consent.
 * Narrowing (removing an audience, switching a setting off) is anyone's who manages the app.
 */
function tokenExchangePolicy(
  ctx: Ctx,
  issues: IssueCollector,
  input: ApplicationInput,
  grantTypes: readonly GrantType[],
  registered: ReadonlySet<string>,
  previous?: Application,
): Pick<Normalised, 'tokenExchangeAudiences' | 'tokenExchangeImpersonation' | 'tokenExchangeRefreshTokens'> {
  const listed = unique((input.tokenExchangeAudiences ?? []).map((a) => a.trim()).filter(Boolean));
  // A resource deleted since it was listed leaves the policy (narrowing is always safe).
  const audiences = listed.filter((a) => registered.has(a) || !previous?.tokenExchangeAudiences.includes(a));
  const impersonation = input.tokenExchangeImpersonation === true;
  const refreshTokens = input.tokenExchangeRefreshTokens === true;
  if (audiences.length > MAX_EXCHANGE_AUDIENCES) {
    issues.add('tokenExchangeAudiences', `At most ${MAX_EXCHANGE_AUDIENCES} token exchange audiences.`);
  }
  const unknown = audiences.filter((a) => !registered.has(a));
  if (unknown.length > 0) {
    issues.add(
      'tokenExchangeAudiences',
      `Token exchange audiences must be registered resources (not ${unknown
        .slice(0, 3)
        .map((a) => `"${a.length > 60 ? `${a.slice(0, 57)}...` : a}"`)
        .join(', ')}).`,
    );
  }
  if (
    (audiences.length > 0 || impersonation || refreshTokens) &&
    !grantTypes.includes(TOKEN_EXCHANGE_GRANT)
  ) {
    issues.add('tokenExchangeAudiences', 'Token exchange settings need the token_exchange grant type.');
  }
  if (refreshTokens && !grantTypes.includes('refresh_token')) {
    issues.add(
      'tokenExchangeRefreshTokens',
      'Refresh tokens from an exchange need the refresh_token grant type.',
    );
  }
  if (!isPrivileged(ctx)) {
    const before = previous?.tokenExchangeAudiences ?? [];
    if (audiences.some((a) => !before.includes(a))) {
      issues.add('tokenExchangeAudiences', 'Only administrators can add token exchange audiences.');
    }
    if (impersonation && !(previous?.tokenExchangeImpersonation ?? false)) {
      issues.add(
        'tokenExchangeImpersonation',
        'Only administrators can allow impersonation by token exchange.',
      );
    }
    if (refreshTokens && !(previous?.tokenExchangeRefreshTokens ?? false)) {
      issues.add(
        'tokenExchangeRefreshTokens',
        'Only administrators can allow refresh tokens from token exchange.',
      );
    }
  }
  return {
    tokenExchangeAudiences: audiences,
    tokenExchangeImpersonation: impersonation,
    tokenExchangeRefreshTokens: refreshTokens,
  };
}

/** Which of `identifiers` are registered resources (one statement; none asked, none run). */
async function registeredResources(
  ctx: Ctx,
  identifiers: readonly string[] | undefined,
): Promise<Set<string>> {
  const wanted = unique((identifiers ?? []).map((a) => a.trim()).filter(Boolean)).slice(
    0,
    MAX_EXCHANGE_AUDIENCES,
  );
  if (wanted.length === 0) return new Set();
  const rows = await ctx.sql.query<{ identifier: string }>(
    'select identifier from resources where identifier = any($1::text[])',
    [wanted],
  );
  return new Set(rows.map((r) => r.identifier));
}

/**
 * The FAPI 2.0 Security Profile (final, 2025) for one application. What the application must
 * already be is checked (and reported like every other rule): a confidential client
 * authenticating with `private_key_jwt` (§5.3.2.1, §5.4), the code flow only — no implicit,
 * password or device grants (§5.3.2.1 "shall only support the authorization code grant"; refresh
 * and client_credentials stay) — and id_tokens signed PS256 or ES256 (§5.4.1). What the profile
 * switches on is set: pushed authorization requests (§5.3.2.2), DPoP-bound tokens (§5.3.2.2,
 * sender-constrained), no refresh-token rotation (§5.3.2.1). The rest is enforced per request:
 * PKCE S256 and 60-second codes (authorization-request.ts), JWT access tokens signed with the
 * application's algorithm (jwt-access-token.ts); `iss` is in every authorization response anyway.
 */
const FAPI2_GRANT_TYPES: readonly GrantType[] = ['authorization_code', 'refresh_token', 'client_credentials'];

function fapi2Bounds(issues: IssueCollector, values: Normalised): void {
  if (values.clientType !== 'confidential' || values.tokenEndpointAuthMethod !== 'private_key_jwt') {
    issues.add(
      'tokenEndpointAuthMethod',
      'FAPI 2.0 needs a confidential client authenticating with private_key_jwt.',
    );
  }
  const refused = values.grantTypes.filter((g) => !FAPI2_GRANT_TYPES.includes(g));
  if (refused.length > 0) {
    issues.add(
      'grantTypes',
      `FAPI 2.0 allows only the code flow (not ${refused.map((g) => `"${g}"`).join(', ')}).`,
    );
  }
  if (!FAPI2_SIGNING_ALGS.includes(values.idTokenSignedResponseAlg)) {
    issues.add('idTokenSignedResponseAlg', `FAPI 2.0 signs with ${FAPI2_SIGNING_ALGS.join(' or ')}.`);
  }
  values.requirePar = true;
  values.requireDpop = true;
  values.rotateRefreshTokens = false;
}

/**
 * A `private_key_jwt` client (RFC 7523 §2.2) registers its public keys one way: inline `jwks` or
 * a `jwks_uri` (RFC 7591 §2: "MUST NOT both be present"). Other methods keep no keys.
 */
function clientKeys(
  issues: IssueCollector,
  method: TokenEndpointAuthMethod,
  input: ApplicationInput,
): Pick<Normalised, 'jwks' | 'jwksUri'> {
  if (method !== 'private_key_jwt') return { jwks: null, jwksUri: null };
  const hasJwks = input.jwks != null;
  const hasUri = input.jwksUri != null && input.jwksUri !== '';
  if (hasJwks && hasUri) {
    issues.add('jwks', 'Register either jwks or jwksUri, not both.');
    return { jwks: null, jwksUri: null };
  }
  if (!hasJwks && !hasUri) {
    issues.add('jwks', 'A private_key_jwt client needs its public keys: jwks or jwksUri.');
    return { jwks: null, jwksUri: null };
  }
  return {
    jwks: hasJwks ? issues.check(() => checkClientJwks(input.jwks), null) : null,
    jwksUri: hasUri ? issues.check(() => checkHttpsUri(input.jwksUri!, 'jwksUri'), null) : null,
  };
}

/**
 * What a dynamically registered client (RFC 7591, registered by anyone who reached the endpoint)
 * may ask for: the redirect-based grants, and client_credentials only with a secret; never the
 * password or implicit grants (RFC 9700 §2.4, §2.1.2), the device grant, nor a scope that acts
 * on the server itself (the vocabulary's privileged scopes). Refused rather than silently
 * dropped (RFC 7591 §3.2.2 lets the server do either): a client that asked for more learns so.
 */
const REGISTRABLE_GRANT_TYPES: readonly GrantType[] = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
];

function registrationBounds(
  issues: IssueCollector,
  clientType: ClientType,
  grantTypes: readonly GrantType[],
  scopes: readonly string[],
): void {
  for (const g of grantTypes) {
    if (!GRANT_TYPES.includes(g)) continue;
    if (
      !REGISTRABLE_GRANT_TYPES.includes(g) ||
      (g === 'client_credentials' && clientType !== 'confidential')
    ) {
      issues.add('grantTypes', `Dynamic registration does not grant "${g}".`);
    }
  }
  const privileged = scopes.filter((s) => PRIVILEGED_SCOPES.includes(s));
  if (privileged.length > 0) {
    issues.add(
      'scopes',
      `Dynamically registered applications cannot have the ${privileged.map((s) => `"${s}"`).join(', ')} scope.`,
    );
  }
}

/**
 * The fields an administrator's "skip the consent page" covers: what the application may ask
 * for (scopes, grant types), where the answer goes (redirect URIs) and whether it proves who it
 * is (client type). Trust is given for exactly what the admin saw (RFC 9700 §2.1, RFC 6749
 * §10.2), so a change to any of them by anyone else withdraws it.
 */
function trustChanges(previous: Application, next: Normalised): string[] {
  const changed: string[] = [];
  if (!sameSet(previous.scopes, next.scopes)) changed.push('scopes');
  if (!sameSet(previous.redirectUris, next.redirectUris)) changed.push('redirectUris');
  if (!sameSet(previous.grantTypes, next.grantTypes)) changed.push('grantTypes');
  if (previous.clientType !== next.clientType) changed.push('clientType');
  return changed;
}

function sameSet<T>(a: readonly T[], b: readonly T[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((v) => set.has(v));
}

/**
 * Registers an application owned by `owner`; without one, by the acting user. Users register
 * for themselves; admins and the CLI for anyone.
 */
export async function createApplication(
  ctx: Ctx,
  owner: Pick<User, 'id'> | undefined,
  input: ApplicationInput,
  registration?: { tokenDigest: Buffer },
): Promise<CreatedApplication> {
  const dynamic = ctx.actor.kind === 'registration';
  if (dynamic !== (registration !== undefined)) {
    throw new ForbiddenError('Dynamic registration goes through the registration endpoint.');
  }
  const ownerId = dynamic ? null : applicationOwner(ctx, owner);
  const grantTypes = [...(input.grantTypes ?? [])];
  // New authorization-code applications get refresh tokens by default (DESIGN.md).
  if (grantTypes.includes('authorization_code') && !grantTypes.includes('refresh_token')) {
    grantTypes.push('refresh_token');
  }
  const registered = await registeredResources(ctx, input.tokenExchangeAudiences);
  const values = normalise(ctx, { ...input, grantTypes }, registered);
  // A private_key_jwt client proves itself with its keys: a secret would only be a liability.
  const clientSecret = SECRET_AUTH_METHODS.includes(values.tokenEndpointAuthMethod)
    ? newCredential('clientSecret')
    : null;
  let app: Application;
  try {
    app = await ctx.transaction(async (tx) => {
      const created = tx.em.create(Application, {
        ...values,
        clientId: newClientId(),
        clientSecretDigest: clientSecret ? digest(clientSecret) : null,
        owner: ownerId === null ? null : tx.em.getReference(User, ownerId),
        dynamicallyRegistered: dynamic,
        registrationTokenDigest: registration?.tokenDigest ?? null,
      });
      await tx.em.persistAndFlush(created);
      await recordAudit(
        ctx,
        'application.create',
        { type: 'application', id: created.id },
        { clientId: created.clientId, name: created.name },
        tx.em,
      );
      return created;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError('Could not register the application, please retry.');
    throw err;
  }
  if (ownerId !== null) await ctx.em.populate(app, ['owner']);
  return { application: app, clientSecret };
}

function applicationOwner(ctx: Ctx, owner: Pick<User, 'id'> | undefined): string {
  if (isPrivileged(ctx)) {
    const id = owner?.id ?? ctx.user?.id;
    if (!id) throw new ValidationError('owner', 'An application needs an owner.');
    return id;
  }
  const user = requireUser(ctx);
  if (owner && owner.id !== user.id) {
    throw new ForbiddenError('Only administrators can register an application for another user.');
  }
  return user.id;
}

/** The application if the actor may manage it; NotFound otherwise (existence is not revealed). */
export async function getManagedApplication(ctx: Ctx, id: string): Promise<Application> {
  // The holder of a registration access token manages that one application (canManage).
  if (ctx.actor.kind !== 'registration') requireUserOrCli(ctx);
  const app = isUuid(id) ? await ctx.em.findOne(Application, { id }, { populate: ['owner'] }) : null;
  if (!app || !canManage(ctx, app)) throw new NotFoundError('Application not found.');
  return app;
}

export async function getManagedApplicationByClientId(ctx: Ctx, clientId: string): Promise<Application> {
  requireUserOrCli(ctx);
  const app = await ctx.em.findOne(Application, { clientId }, { populate: ['owner'] });
  if (!app || !canManage(ctx, app)) throw new NotFoundError('Application not found.');
  return app;
}

export async function updateApplication(
  ctx: Ctx,
  id: string,
  update: ApplicationUpdate,
): Promise<Application> {
  const app = await getManagedApplication(ctx, id);
  if (app.metadataDocument) {
    // Its document is re-read at every authorization; an edit here would be silently undone.
    throw new ForbiddenError(
      'This application is defined by its client metadata document; change the document at its client_id URL instead.',
    );
  }
  const merged: ApplicationInput = {
    name: update.name ?? app.name,
    clientType: update.clientType ?? app.clientType,
    grantTypes: update.grantTypes ?? app.grantTypes,
    redirectUris: update.redirectUris ?? app.redirectUris,
    postLogoutRedirectUris: update.postLogoutRedirectUris ?? app.postLogoutRedirectUris,
    allowedOrigins: update.allowedOrigins ?? app.allowedOrigins,
    scopes: update.scopes ?? app.scopes,
    skipAuthorization: update.skipAuthorization ?? app.skipAuthorization,
    requireDpop: update.requireDpop ?? app.requireDpop,
    accessTokenFormat: update.accessTokenFormat ?? app.accessTokenFormat,
    idTokenSignedResponseAlg: update.idTokenSignedResponseAlg ?? app.idTokenSignedResponseAlg,
    tokenEndpointAuthMethod:
      update.tokenEndpointAuthMethod ??
      (update.clientType && update.clientType !== app.clientType ? undefined : app.tokenEndpointAuthMethod),
    clientUri: update.clientUri === undefined ? app.clientUri : update.clientUri,
    logoUri: update.logoUri === undefined ? app.logoUri : update.logoUri,
    contacts: update.contacts ?? app.contacts,
    // Keys are registered one way: setting jwks drops jwks_uri and the other way round.
    jwks: update.jwks !== undefined ? update.jwks : update.jwksUri != null ? null : app.jwks,
    jwksUri: update.jwksUri !== undefined ? update.jwksUri : update.jwks != null ? null : app.jwksUri,
    requirePar: update.requirePar ?? app.requirePar,
    profile: update.profile ?? app.profile,
    rotateRefreshTokens: update.rotateRefreshTokens ?? app.rotateRefreshTokens,
    tokenExchangeAudiences: update.tokenExchangeAudiences ?? app.tokenExchangeAudiences,
    tokenExchangeImpersonation: update.tokenExchangeImpersonation ?? app.tokenExchangeImpersonation,
    tokenExchangeRefreshTokens: update.tokenExchangeRefreshTokens ?? app.tokenExchangeRefreshTokens,
    backchannelLogoutUri:
      update.backchannelLogoutUri === undefined ? app.backchannelLogoutUri : update.backchannelLogoutUri,
    backchannelLogoutSessionRequired:
      update.backchannelLogoutSessionRequired ?? app.backchannelLogoutSessionRequired,
  };
  const registered = await registeredResources(ctx, merged.tokenExchangeAudiences);
  const values = normalise(ctx, merged, registered, app);
  // skipAuthorization = true always means an admin (or the CLI) approved the current values.
  const withdrawn = app.skipAuthorization && !isPrivileged(ctx) ? trustChanges(app, values) : [];
  if (withdrawn.length > 0) values.skipAuthorization = false;
  await ctx.transaction(async (tx) => {
    // No secret outlives a switch to keys: switching back needs a fresh one (rotateClientSecret).
    if (!SECRET_AUTH_METHODS.includes(values.tokenEndpointAuthMethod)) app.clientSecretDigest = null;
    tx.em.assign(app, values);
    await tx.em.flush();
    await recordAudit(
      ctx,
      'application.update',
      { type: 'application', id: app.id },
      {
        fields: Object.keys(update).filter((k) => update[k as keyof ApplicationUpdate] !== undefined),
      },
      tx.em,
    );
    if (withdrawn.length > 0) {
      await recordAudit(
        ctx,
        'application.skip_authorization_cleared',
        { type: 'application', id: app.id },
        { clientId: app.clientId, changedFields: withdrawn },
        tx.em,
      );
    }
  });
  await clientChanged(ctx, app.clientId);
  return app;
}

/** Deletes the application with its audit event, in one transaction (owners, admins, the CLI). */
export async function deleteApplication(ctx: Ctx, id: string): Promise<void> {
  const app = await getManagedApplication(ctx, id);
  await ctx.transaction(async (tx) => {
    tx.em.remove(app); // one DELETE; the foreign keys cascade to grants, codes and tokens
    await tx.em.flush();
    await recordAudit(
      ctx,
      'application.delete',
      { type: 'application', id },
      { clientId: app.clientId, name: app.name },
      tx.em,
    );
  });
  await clientChanged(ctx, app.clientId); // after COMMIT: other instances must not re-read the row
}

/**
 * Replaces the secret with its audit event, in one transaction: the old secret stops working at
 * COMMIT. The UPDATE sets the digest unconditionally, so of parallel rotations the last to commit
 * wins and exactly one secret works afterwards.
 */
export async function rotateClientSecret(ctx: Ctx, id: string): Promise<CreatedApplication> {
  const app = await getManagedApplication(ctx, id);
  if (app.clientType !== 'confidential') {
    throw new ValidationError('id', 'A public client has no secret to rotate.');
  }
  if (app.tokenEndpointAuthMethod === 'private_key_jwt') {
    throw new ValidationError(
      'id',
      'This client authenticates with its keys (private_key_jwt) and has no secret.',
    );
  }
  const clientSecret = newCredential('clientSecret');
  await ctx.transaction(async (tx) => {
    app.clientSecretDigest = digest(clientSecret);
    await tx.em.flush();
    await recordAudit(
      ctx,
      'application.rotate_secret',
      { type: 'application', id: app.id },
      { clientId: app.clientId },
      tx.em,
    );
  });
  await clientChanged(ctx, app.clientId);
  return { application: app, clientSecret };
}

export interface ApplicationFilter {
  name?: string;
  clientType?: ClientType;
  ownerId?: string;
}

/** The filter that limits a listing to what the actor may see. */
export function visibleApplications(ctx: Ctx, filter: ApplicationFilter = {}): FilterQuery<Application> {
  const where: FilterQuery<Application> & Record<string, unknown> = {};
  if (!isPrivileged(ctx)) {
    where.owner = requireUser(ctx).id;
  } else if (filter.ownerId) {
    where.owner = filter.ownerId;
  }
  if (filter.name) where.name = ilikeContains(filter.name);
  if (filter.clientType) where.clientType = filter.clientType;
  return where;
}

/** The actor's applications (admins: all), newest first, one page at a time. */
export async function listApplications(
  ctx: Ctx,
  args: PageArgs,
  filter: ApplicationFilter = {},
): Promise<Page<Application>> {
  return findPage(ctx.em, Application, visibleApplications(ctx, filter), args, ['owner']);
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

/**
 * Applications by id (with owners) in one query, for ids a checked listing returned (a token's
 * application). Callers show more than the client_id only where canManage holds.
 */
export async function applicationsByIds(ctx: Ctx, ids: readonly string[]): Promise<Map<string, Application>> {
  requireUserOrCli(ctx);
  const apps = await ctx.em.find(Application, { id: { $in: [...ids] } }, { populate: ['owner'] });
  return new Map(apps.map((a) => [a.id, a]));
}
