import { registerEnumType } from 'type-graphql';
import {
  GRANT_TYPE_ENTRIES,
  type GrantType,
  TOKEN_ENDPOINT_AUTH_METHOD_ENTRIES,
  TOKEN_KIND_ENTRIES,
  type TokenEndpointAuthMethod,
  type TokenKind,
} from '../../vocabulary.js';

/** `{ GRAPHQL_NAME: 'value' }` from a vocabulary table, in its order, as registerEnumType takes it. */
function graphqlEnum<V extends string>(
  entries: readonly { readonly graphql: string; readonly name: V }[],
): Readonly<Record<string, V>> {
  return Object.freeze(Object.fromEntries(entries.map((e) => [e.graphql, e.name])));
}

export enum ApplicationProfileValue {
  NONE = 'none',
  FAPI2 = 'fapi2',
}

/** GraphQL enum names map to the RFC values the services use. */
export enum ClientTypeValue {
  CONFIDENTIAL = 'confidential',
  PUBLIC = 'public',
}

export const GrantTypeValue = graphqlEnum(GRANT_TYPE_ENTRIES);
export type GrantTypeValue = GrantType;

export enum AccessTokenFormatValue {
  OPAQUE = 'opaque',
  JWT = 'jwt',
}

export enum SigningAlgorithmValue {
  RS256 = 'RS256',
  ES256 = 'ES256',
  PS256 = 'PS256',
}

export const TokenEndpointAuthMethodValue = graphqlEnum(TOKEN_ENDPOINT_AUTH_METHOD_ENTRIES);
export type TokenEndpointAuthMethodValue = TokenEndpointAuthMethod;

export const TokenKindValue = graphqlEnum(TOKEN_KIND_ENTRIES);
export type TokenKindValue = TokenKind;

registerEnumType(ApplicationProfileValue, {
  name: 'ApplicationProfile',
  description:
    'Security profiles: FAPI2 holds the application to the FAPI 2.0 Security Profile (private_key_jwt, PAR, DPoP, PKCE S256, PS256/ES256, 60 s codes, no refresh rotation).',
});
registerEnumType(ClientTypeValue, { name: 'ClientType', description: 'RFC 6749 §2.1 client types.' });
registerEnumType(GrantTypeValue, { name: 'GrantType', description: 'RFC 7591 grant_types values.' });
registerEnumType(AccessTokenFormatValue, {
  name: 'AccessTokenFormat',
  description: 'Opaque random tokens, or RFC 9068 JWTs that resource servers verify locally.',
});
registerEnumType(SigningAlgorithmValue, {
  name: 'SigningAlgorithm',
  description: 'id_token signing algorithms.',
});
registerEnumType(TokenEndpointAuthMethodValue, {
  name: 'TokenEndpointAuthMethod',
  description:
    'RFC 7591 token_endpoint_auth_method: the only way the client may authenticate (OIDC Core §9). Confidential clients default to CLIENT_SECRET_BASIC; public clients use NONE.',
});
registerEnumType(TokenKindValue, { name: 'TokenKind' });
