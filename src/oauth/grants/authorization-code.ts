import type { ClientRecord } from '../../services/client-cache.js';
import {
  consumeCodeAndIssue,
  findAuthorizationCode,
  type RedeemedCode,
  redeemCode,
  type StoredCode,
} from '../../services/codes.js';
import type { ServerCtx } from '../../services/context.js';
import { digest } from '../../services/secrets.js';
import { mintAccessToken, revokeFamily } from '../../services/tokens.js';
import { invalidGrant, invalidRequest } from '../errors.js';
import { s256, VERIFIER, verifierMatches } from '../pkce.js';
import { matchRedirectUri } from '../redirect-uris.js';
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
 */
export const authorizationCodeGrant: GrantHandler = {
  grantType: 'authorization_code',
  async handle({ ctx, params, client }) {
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
    const refresh = mintRefreshIfAllowed(client);
    const refreshTtl = ctx.config.ttl.refreshToken;

    let redeemed: RedeemedCode | null;
    let access: Awaited<ReturnType<typeof mintAccessToken>>;
    if (client.accessTokenFormat === 'jwt') {
      const code = await readCode(ctx, value, client, redirectUri, verifier);
      access = await mintAccessToken(ctx, {
        client,
        userId: code.userId,
        grantId: code.grantId,
        familyId: code.id,
        scopes: code.scopes,
      });
      redeemed = (await consumeCodeAndIssue(ctx.sql, code.id, access, refresh, refreshTtl)) ? code : null;
    } else {
      access = await mintAccessToken(ctx, {
        client,
        userId: null,
        grantId: null,
        familyId: null,
        scopes: [],
      });
      redeemed = await redeemCode(
        ctx.sql,
        {
          codeDigest: digest(value),
          applicationId: client.id,
          redirectUri,
          s256: verifier === null ? null : s256(verifier),
          plain: verifier,
        },
        access,
        refresh,
        refreshTtl,
      );
    }
    if (!redeemed) {
      await readCode(ctx, value, client, redirectUri, verifier); // throws the precise reason
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
      sid: redeemed.sid,
      accessToken: access.value,
    });
    return tokenResponse({ access, refresh, scopes, idToken });
  },
};

/** Reads the code and checks every binding, throwing the RFC error that says what is wrong. */
async function readCode(
  ctx: ServerCtx,
  value: string,
  client: ClientRecord,
  redirectUri: string | null,
  verifier: string | null,
): Promise<StoredCode> {
  const code = await findAuthorizationCode(ctx.sql, value);
  if (!code || code.applicationId !== client.id) throw invalidGrant('The authorization code is invalid.');
  if (code.consumed) {
    // RFC 6749 §4.1.2: a code used twice revokes the tokens issued with it.
    await revokeFamily(ctx.sql, code.id);
    throw invalidGrant('The authorization code has already been used.');
  }
  if (code.expired) throw invalidGrant('The authorization code has expired.');
  if (code.redirectUri !== null) {
    if (redirectUri === null)
      throw invalidGrant('redirect_uri is required: it was sent to the authorization endpoint.');
    if (redirectUri !== code.redirectUri)
      throw invalidGrant('redirect_uri does not match the authorization request.');
  }
  if (code.codeChallenge && code.codeChallengeMethod) {
    if (!verifier) throw invalidGrant('code_verifier is required (PKCE).');
    if (!verifierMatches(verifier, code.codeChallenge, code.codeChallengeMethod)) {
      throw invalidGrant('code_verifier does not match the code_challenge.');
    }
  } else if (verifier !== null) {
    // OAuth 2.1 §4.1.3: a verifier without a challenge is a PKCE downgrade attempt.
    throw invalidGrant('code_verifier was sent but the authorization request had no code_challenge.');
  }
  return code;
}
