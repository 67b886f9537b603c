import { registerEnumType } from 'type-graphql';

/** GraphQL enum names map to the RFC values the services use. */
export enum ClientTypeValue {
  CONFIDENTIAL = 'confidential',
  PUBLIC = 'public',
}

export enum GrantTypeValue {
  AUTHORIZATION_CODE = 'authorization_code',
  CLIENT_CREDENTIALS = 'client_credentials',
  REFRESH_TOKEN = 'refresh_token',
  PASSWORD = 'password',
  DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code',
  IMPLICIT = 'implicit',
}

export enum AccessTokenFormatValue {
  OPAQUE = 'opaque',
  JWT = 'jwt',
}

export enum SigningAlgorithmValue {
  RS256 = 'RS256',
  ES256 = 'ES256',
}

export enum TokenEndpointAuthMethodValue {
  CLIENT_SECRET_BASIC = 'client_secret_basic',
  CLIENT_SECRET_POST = 'client_secret_post',
  NONE = 'none',
}

export enum TokenKindValue {
  ACCESS = 'access',
  REFRESH = 'refresh',
}

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
