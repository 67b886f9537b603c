import type { ServerCtx } from '../../services/context.js';
import type { ResourceRecord } from '../../services/resources.js';
import { exchangeToken } from '../../services/token-exchange.js';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../vocabulary.js';
import { invalidRequest, unauthorizedClient } from '../errors.js';
import { type Params, scopeParam } from '../params.js';
import { invalidTarget, requireKnown, resourceUriProblem, tokenResource } from '../resource-indicators.js';
import { tokenResponse } from './common.js';
import type { GrantHandler } from './types.js';

/**
 * RFC 8693 §2.1: exchange a subject_token (an access or ID token of this server), optionally with
 * an actor_token (delegation), for an access token to one audience. This module reads the
 * request; src/services/token-exchange.ts decides. The response is RFC 8693 §2.2.1's: the
 * RFC 6749 §5.1 members plus issued_token_type.
 */
export const tokenExchangeGrant: GrantHandler = {
  grantType: TOKEN_EXCHANGE_GRANT,
  async handle({ ctx, params, client, dpop }) {
    // RFC 8693 §5: the exchange trusts the client's identity; a public client proves none.
    if (client.clientType !== 'confidential') {
      throw unauthorizedClient('Only confidential clients may exchange tokens.');
    }
    const subjectToken = params.get('subject_token');
    const subjectTokenType = params.get('subject_token_type');
    if (!subjectToken || !subjectTokenType) {
      throw invalidRequest('subject_token and subject_token_type are required (RFC 8693 §2.1).');
    }
    const actorToken = params.get('actor_token') ?? null;
    const actorTokenType = params.get('actor_token_type') ?? null;
    if ((actorToken === null) !== (actorTokenType === null)) {
      throw invalidRequest('actor_token and actor_token_type go together (RFC 8693 §2.1).');
    }
    const requestedTokenType = params.get('requested_token_type') ?? TOKEN_TYPE.accessToken;
    if (requestedTokenType !== TOKEN_TYPE.accessToken && requestedTokenType !== TOKEN_TYPE.refreshToken) {
      throw invalidRequest(
        `requested_token_type must be ${TOKEN_TYPE.accessToken} or ${TOKEN_TYPE.refreshToken} (RFC 8693 §2.2.2).`,
      );
    }
    const target = await requestedTarget(ctx, params);
    const scopes = scopeParam(params);
    // The service acts for the application that authenticated on this request, and only for it.
    ctx.actor = { kind: 'client', clientId: client.clientId };
    const exchanged = await exchangeToken(ctx, client, {
      subjectToken,
      subjectTokenType,
      actorToken,
      actorTokenType,
      target,
      scopes,
      requestedTokenType,
      jkt: dpop?.jkt ?? null,
    });
    return { ...tokenResponse(exchanged), issued_token_type: TOKEN_TYPE.accessToken };
  },
};

/**
 * RFC 8693 §2.1 `resource` (RFC 8707, an absolute URI) and `audience` (a logical name): here an
 * audience names a registered resource by its identifier, and both, when sent, name the same
 * one — an access token has one audience. Anything else is invalid_target.
 */
async function requestedTarget(ctx: ServerCtx, params: Params): Promise<ResourceRecord | null> {
  const resource = await tokenResource(ctx.runtime.resources, params);
  const audience = params.get('audience');
  if (audience === undefined) return resource;
  if (resourceUriProblem(audience) !== null) {
    throw invalidTarget('The audience is not a resource registered here (RFC 8693 §2.2.2).');
  }
  if (resource && resource.identifier !== audience) {
    throw invalidTarget('resource and audience name different targets: an access token has one audience.');
  }
  return resource ?? requireKnown(await ctx.runtime.resources.get(audience), audience);
}
