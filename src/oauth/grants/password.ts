import { newId } from '../../entities/base.js';
import { mfaRequiredFor, userHasFactor } from '../../services/factors.js';
import { upsertGrant } from '../../services/grants.js';
import { authenticate } from '../../services/login.js';
import { insertTokenPair, mintAccessToken } from '../../services/tokens.js';
import { invalidGrant, invalidRequest, temporarilyUnavailable, tooManyAttempts } from '../errors.js';
import { scopeParam } from '../params.js';
import { resolveScopesFor, tokenResource } from '../resource-indicators.js';
import { resolveScopes } from '../scopes.js';
import { mintRefreshIfAllowed, tokenResponse } from './common.js';
import type { GrantHandler } from './types.js';

/**
 * RFC 6749 §4.3, for applications that opt in (OAuth 2.1 drops it). Same argon2 check and the
 * same brute-force limits as the login page. The consent is recorded as a grant so that the
 * user sees and can revoke it. An account with a second factor (or one MFA_REQUIRED covers)
 * cannot use it: the grant has no way to ask for the factor.
 */
export const passwordGrant: GrantHandler = {
  grantType: 'password',
  async handle({ ctx, params, client, dpop }) {
    const username = params.get('username');
    const password = params.get('password');
    if (!username || !password) throw invalidRequest('username and password are required.');
    // RFC 8707: any registered resource, as for client_credentials; the grant records it.
    const resource = await tokenResource(ctx.runtime.resources, params);
    const resources = resource ? [resource] : [];
    const scopes = resolveScopesFor(
      (r) => resolveScopes(r, client, ctx.config),
      scopeParam(params),
      resources,
    );
    const result = await authenticate(ctx, username, password);
    if (!result.ok) {
      if (result.reason === 'blocked') throw tooManyAttempts('invalid_grant', result.retryAfter);
      if (result.reason === 'busy') throw temporarilyUnavailable(result.retryAfter);
      throw invalidGrant('Invalid username or password.');
    }
    // A password alone must not open an account that needs more: the login page asks for it.
    if (mfaRequiredFor(ctx.config, result.user) || (await userHasFactor(ctx, result.user.id))) {
      throw invalidGrant('This account signs in with a second factor: use the authorization code flow.');
    }
    const identifiers = resources.map((r) => r.identifier);
    const grant = await upsertGrant(ctx.sql, result.user.id, client.id, scopes, identifiers);
    const subject = {
      client,
      userId: result.user.id,
      grantId: grant.id,
      familyId: newId(),
      scopes,
      resource,
      jkt: dpop?.jkt,
    };
    const access = await mintAccessToken(ctx, subject);
    const refresh = mintRefreshIfAllowed(client, dpop);
    await insertTokenPair(ctx.sql, access, refresh, subject, ctx.config.ttl.refreshToken, {
      authTime: new Date(),
      sid: null,
    });
    return tokenResponse({ access, refresh, scopes });
  },
};
