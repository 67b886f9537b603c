import { recordReplay } from '../../observability/metrics.js';
import { diagnoseCode, type RedeemedCode, type Redemption, redeemCode } from '../../services/codes.js';
import type { ServerCtx } from '../../services/context.js';
import { digest } from '../../services/secrets.js';
import { issuesJwt, mintAccessToken, revokeFamily } from '../../services/tokens.js';
import { invalidGrant, invalidRequest } from '../errors.js';
import { s256, VERIFIER } from '../pkce.js';
import { matchRedirectUri } from '../redirect-uris.js';
import { notHeld, tokenResource } from '../resource-indicators.js';
import { idTokenFor, mintRefreshIfAllowed, tokenResponse } from './common.js';
import type { GrantHandler } from './types.js';

/**
 * RFC 6749 §4.1.3 with RFC 7636: the code is single-use (a replay revokes what it issued),
 * short-lived, bound to the client, the redirect URI and the PKCE challenge.
 *
 * The common case is one database statement that checks every binding while consuming the
 * code and writing the tokens; only when it refuses is the code read, to say why (and to revoke
 * on replay). JWT access tokens need the code's user before they can be signed, so for those
 * the code is read first.
 *
 * RFC 8707: `resource` names one of the resources the authorization request named (one access
 * token, one audience); a code bound to resources needs it, a code bound to none refuses it.
 * The scopes were checked against every one of them at the authorization request.
 */
export const authorizationCodeGrant: GrantHandler = {
  grantType: 'authorization_code',
  async handle({ ctx, params, client, dpop }) {
    const value = params.get('code');
    if (!value) throw invalidRequest('The code parameter is required.');
    if (value.length > 512) throw invalidGrant('The authorization code is invalid.');
    const redirectUri = params.get('redirect_uri') ?? null;
    const verifier = params.get('code_verifier') ?? null;
    // Decided once, before either path: a verifier that is sent must be well-formed (RFC 7636
    // §4.1), so the fast path's "no verifier" can only mean none was sent (no PKCE downgrade).
    if (verifier !== null && !VERIFIER.test(verifier)) {
      throw invalidGrant(
        'code_verifier is malformed: 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1).',
      );
    }
    if (redirectUri !== null && !matchRedirectUri(redirectUri, client.redirectUris)) {
      throw invalidGrant('redirect_uri is not registered for this client.');
    }
    const resource = await tokenResource(ctx.runtime.resources, params);
    const refresh = mintRefreshIfAllowed(client, dpop);
    const jkt = dpop?.jkt ?? null;
    const refreshTtl = ctx.config.ttl.refreshToken;

    const presented: Redemption = {
      codeDigest: digest(value),
      applicationId: client.id,
      redirectUri,
      s256: verifier === null ? null : s256(verifier),
      plain: verifier,
      audience: resource?.identifier ?? null,
      proofJkt: jkt,
    };

    let access: Awaited<ReturnType<typeof mintAccessToken>>;
    if (issuesJwt(client, resource)) {
      // The diagnostic read evaluates the same rules the redemption statement requires.
      const code = await explainUnlessRedeemable(ctx, presented);
      access = await mintAccessToken(ctx, {
        client,
        userId: code.userId,
        grantId: code.grantId,
        familyId: code.id,
        scopes: code.scopes,
        resource,
        jkt,
      });
    } else {
      access = await mintAccessToken(ctx, {
        client,
        userId: null,
        grantId: null,
        familyId: null,
        scopes: [],
        resource,
        jkt,
      });
    }
    const redeemed = await redeemCode(ctx.sql, presented, access, refresh, refreshTtl);
    if (!redeemed) {
      await explainUnlessRedeemable(ctx, presented); // throws the precise reason
      throw invalidGrant('The authorization code is no longer valid.');
    }
    const { scopes } = redeemed;
    const idToken = await idTokenFor({
      ctx,
      client,
      userId: redeemed.userId,
      scopes,
      nonce: redeemed.nonce,
      authTime: redeemed.authTime,
      amr: redeemed.amr,
      sid: redeemed.sid,
      accessToken: access.value,
    });
    return tokenResponse({ access, refresh, scopes, idToken });
  },
};

/**
 * Reads the code with every redemption rule evaluated by the database (the same conditions the
 * redemption statement requires) and throws the RFC error for the first that fails.
 */
async function explainUnlessRedeemable(ctx: ServerCtx, presented: Redemption): Promise<RedeemedCode> {
  const found = await diagnoseCode(ctx.sql, presented);
  if (!found) throw invalidGrant('The authorization code is invalid.');
  switch (found.failed) {
    case null:
      return found.code;
    case 'for_client':
      throw invalidGrant('The authorization code is invalid.');
    case 'unused':
      // RFC 6749 §4.1.2: a code used twice revokes the tokens issued with it.
      recordReplay('authorization_code');
      await revokeFamily(ctx.sql, found.code.id);
      throw invalidGrant('The authorization code has already been used.');
    case 'unexpired':
      throw invalidGrant('The authorization code has expired.');
    case 'redirect_uri_matches':
      throw invalidGrant(
        presented.redirectUri === null
          ? 'redirect_uri is required: it was sent to the authorization endpoint.'
          : 'redirect_uri does not match the authorization request.',
      );
    case 'pkce_matches':
      if (!found.hadChallenge) {
        // OAuth 2.1 §4.1.3: a verifier without a challenge is a PKCE downgrade attempt.
        throw invalidGrant('code_verifier was sent but the authorization request had no code_challenge.');
      }
      throw invalidGrant(
        presented.plain === null
          ? 'code_verifier is required (PKCE).'
          : 'code_verifier does not match the code_challenge.',
      );
    case 'grant_active':
      throw invalidGrant('The authorization has been revoked.');
    case 'user_enabled':
      throw invalidGrant('The user is disabled.');
    case 'resource_held':
      throw notHeld();
    case 'dpop_key_matches':
      throw invalidGrant(
        presented.proofJkt === null
          ? 'The authorization request named dpop_jkt: the token request needs a DPoP proof of that key (RFC 9449 section 10).'
          : 'The DPoP proof key does not match the dpop_jkt of the authorization request (RFC 9449 section 10).',
      );
  }
}
