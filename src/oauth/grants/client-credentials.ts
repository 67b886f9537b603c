import { insertAccessToken, mintAccessToken } from '../../services/tokens.js';
import { unauthorizedClient } from '../errors.js';
import { scopeParam } from '../params.js';
import { resolveScopesFor, tokenResource } from '../resource-indicators.js';
import { resolveScopes } from '../scopes.js';
import { tokenResponse } from './common.js';
import type { GrantHandler } from './types.js';

/** RFC 6749 §4.4: a confidential client acting for itself. No refresh token (§4.4.3). */
export const clientCredentialsGrant: GrantHandler = {
  grantType: 'client_credentials',
  async handle({ ctx, params, client, dpop }) {
    if (client.clientType !== 'confidential') {
      throw unauthorizedClient('Only confidential clients may use the client_credentials grant.');
    }
    // RFC 8707: any registered resource, bounded by the application's scopes and the resource's.
    const resource = await tokenResource(ctx.runtime.resources, params);
    const scopes = resource
      ? resolveScopesFor((r) => resolveScopes(r, client, ctx.config), scopeParam(params), [resource])
      : resolveScopes(scopeParam(params), client, ctx.config);
    const subject = { client, userId: null, grantId: null, familyId: null, scopes, resource, jkt: dpop?.jkt };
    const access = await mintAccessToken(ctx, subject);
    await insertAccessToken(ctx, access, subject);
    return tokenResponse({ access, refresh: null, scopes });
  },
};
