import { issueIdToken } from '../../oidc/id-token.js';
import { consumeCodeAndIssue, findAuthorizationCode } from '../../services/codes.js';
import { mintAccessToken, mintRefreshToken, revokeFamily } from '../../services/tokens.js';
import { invalidGrant, invalidRequest } from '../errors.js';
import { verifierMatches } from '../pkce.js';
import { matchRedirectUri } from '../redirect-uris.js';
import { type GrantHandler, tokenResponse } from './types.js';

/**
 * RFC 6749 §4.1.3 with RFC 7636: the code is single-use (a replay revokes what it issued),
 * short-lived, bound to the client, the redirect URI and the PKCE challenge.
 */
export const authorizationCodeGrant: GrantHandler = {
  grantType: 'authorization_code',
  requires: 'authorization_code',
  async handle({ ctx, params, client }) {
    const value = params.get('code');
    if (!value) throw invalidRequest('The code parameter is required.');
    const redirectUri = params.get('redirect_uri');
    const verifier = params.get('code_verifier');
    const code = await findAuthorizationCode(ctx.sql, value);
    if (!code || code.applicationId !== client.id) throw invalidGrant('The authorization code is invalid.');
    if (code.consumed) {
      // RFC 6749 §4.1.2: a code used twice revokes the tokens issued with it.
      await revokeFamily(ctx.sql, code.id);
      throw invalidGrant('The authorization code has already been used.');
    }
    if (code.expired) throw invalidGrant('The authorization code has expired.');
    if (code.redirectUri !== null) {
      if (redirectUri === undefined)
        throw invalidGrant('redirect_uri is required: it was sent to the authorization endpoint.');
      if (redirectUri !== code.redirectUri)
        throw invalidGrant('redirect_uri does not match the authorization request.');
    } else if (redirectUri !== undefined && !matchRedirectUri(redirectUri, client.redirectUris)) {
      throw invalidGrant('redirect_uri is not registered for this client.');
    }
    if (code.codeChallenge && code.codeChallengeMethod) {
      if (!verifier) throw invalidGrant('code_verifier is required (PKCE).');
      if (!verifierMatches(verifier, code.codeChallenge, code.codeChallengeMethod)) {
        throw invalidGrant('code_verifier does not match the code_challenge.');
      }
    } else if (verifier !== undefined) {
      // OAuth 2.1 §4.1.3: a verifier without a challenge is a PKCE downgrade attempt.
      throw invalidGrant('code_verifier was sent but the authorization request had no code_challenge.');
    }

    const subject = {
      client,
      userId: code.userId,
      grantId: code.grantId,
      familyId: code.id,
      scopes: code.scopes,
    };
    const access = await mintAccessToken(ctx, subject);
    const refresh = client.grantTypes.includes('refresh_token') ? mintRefreshToken() : null;
    const issued = await consumeCodeAndIssue(ctx.sql, code.id, access, refresh, ctx.config.ttl.refreshToken);
    if (!issued) {
      const again = await findAuthorizationCode(ctx.sql, value);
      if (again?.consumed) await revokeFamily(ctx.sql, code.id);
      throw invalidGrant('The authorization code is no longer valid.');
    }
    const idToken = code.scopes.includes('openid')
      ? await issueIdToken(ctx, {
          client,
          userId: code.userId,
          scopes: code.scopes,
          nonce: code.nonce,
          authTime: code.authTime,
          sid: code.sid,
          accessToken: access.value,
        })
      : undefined;
    return tokenResponse(access, refresh, code.scopes, idToken);
  },
};
