import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType } from 'type-graphql';
import {
  AccessTokenFormatValue,
  ApplicationProfileValue,
  ClientTypeValue,
  GrantTypeValue,
  SigningAlgorithmValue,
  TokenEndpointAuthMethodValue,
  TokenKindValue,
} from './enums.js';

/** The optional application settings, the same when creating and when updating (not an input of its own). */
@InputType()
abstract class ApplicationSettingsInput {
  @Field(() => [String], { nullable: true })
  redirectUris?: string[];

  @Field(() => [String], { nullable: true })
  postLogoutRedirectUris?: string[];

  @Field(() => [String], { nullable: true })
  allowedOrigins?: string[];

  @Field(() => [String], {
    nullable: true,
    description: 'Defaults to every scope but graphql and introspection.',
  })
  scopes?: string[];

  @Field(() => Boolean, { nullable: true, description: 'Admins only.' })
  skipAuthorization?: boolean;

  @Field(() => Boolean, {
    nullable: true,
    description: 'RFC 9449: refuse token requests without a DPoP proof. Default false.',
  })
  requireDpop?: boolean;

  @Field(() => AccessTokenFormatValue, { nullable: true })
  accessTokenFormat?: AccessTokenFormatValue;

  @Field(() => SigningAlgorithmValue, { nullable: true })
  idTokenSignedResponseAlg?: SigningAlgorithmValue;

  @Field(() => TokenEndpointAuthMethodValue, { nullable: true })
  tokenEndpointAuthMethod?: TokenEndpointAuthMethodValue;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      'RFC 7591 jwks: the JWK Set of public keys a PRIVATE_KEY_JWT client signs its assertions with (RFC 7523). Setting it replaces jwksUri.',
  })
  jwks?: Record<string, unknown>;

  @Field(() => String, {
    nullable: true,
    description:
      'RFC 7591 jwks_uri (https): where a PRIVATE_KEY_JWT client publishes its keys. Setting it replaces jwks.',
  })
  jwksUri?: string;

  @Field(() => Boolean, {
    nullable: true,
    description: 'RFC 9126 §6: only pushed authorization requests (PAR) are accepted for this application.',
  })
  requirePar?: boolean;

  @Field(() => ApplicationProfileValue, {
    nullable: true,
    description: 'FAPI2: hold the application to the FAPI 2.0 Security Profile (switches on PAR and DPoP).',
  })
  profile?: ApplicationProfileValue;

  @Field(() => Boolean, {
    nullable: true,
    description: 'Replace the refresh token at each refresh (default true).',
  })
  rotateRefreshTokens?: boolean;

  @Field(() => [String], {
    nullable: true,
    description:
      'RFC 8693: the resource identifiers a token exchange may target (needs TOKEN_EXCHANGE; administrators add them).',
  })
  tokenExchangeAudiences?: string[];

  @Field(() => Boolean, {
    nullable: true,
    description:
      'RFC 8693: allow exchanges without an actor_token (impersonation). Default false; administrators only.',
  })
  tokenExchangeImpersonation?: boolean;

  @Field(() => Boolean, {
    nullable: true,
    description:
      'RFC 8693 §2.2.1: an exchange may also return a refresh token (needs REFRESH_TOKEN). Default false; administrators only.',
  })
  tokenExchangeRefreshTokens?: boolean;
  @Field(() => String, {
    nullable: true,
    description:
      'OpenID Connect Back-Channel Logout 1.0 backchannel_logout_uri (https, no fragment); an empty string clears it.',
  })
  backchannelLogoutUri?: string;

  @Field(() => Boolean, {
    nullable: true,
    description: 'Back-Channel Logout backchannel_logout_session_required. Default false.',
  })
  backchannelLogoutSessionRequired?: boolean;
}

@InputType()
export class CreateApplicationInput extends ApplicationSettingsInput {
  @Field(() => String)
  name!: string;

  @Field(() => ClientTypeValue)
  clientType!: ClientTypeValue;

  @Field(() => [GrantTypeValue], {
    description: 'AUTHORIZATION_CODE also gets REFRESH_TOKEN unless you remove it later.',
  })
  grantTypes!: GrantTypeValue[];
}

@InputType()
export class UpdateApplicationInput extends ApplicationSettingsInput {
  @Field(() => String, { nullable: true })
  name?: string;

  @Field(() => ClientTypeValue, { nullable: true })
  clientType?: ClientTypeValue;

  @Field(() => [GrantTypeValue], { nullable: true })
  grantTypes?: GrantTypeValue[];
}

@InputType()
export class ApplicationFilter {
  @Field(() => String, { nullable: true, description: 'Part of the name, case-insensitive.' })
  name?: string;

  @Field(() => ClientTypeValue, { nullable: true })
  clientType?: ClientTypeValue;

  @Field(() => ID, { nullable: true, description: 'Admins only: one owner’s applications.' })
  ownerId?: string;
}

@InputType()
export class TokenFilter {
  @Field(() => ID, { nullable: true })
  applicationId?: string;

  @Field(() => ID, { nullable: true })
  userId?: string;

  @Field(() => Boolean, { nullable: true })
  active?: boolean;

  @Field(() => TokenKindValue, { nullable: true })
  kind?: TokenKindValue;
}

@InputType()
export class CreateUserInput {
  @Field(() => String)
  username!: string;

  @Field(() => String)
  password!: string;

  @Field(() => String, { nullable: true })
  email?: string;

  @Field(() => Boolean, { nullable: true })
  isAdmin?: boolean;
}

@InputType()
export class UpdateUserInput {
  @Field(() => String, { nullable: true })
  username?: string;

  @Field(() => String, { nullable: true })
  password?: string;

  @Field(() => String, { nullable: true })
  email?: string;

  @Field(() => Boolean, { nullable: true })
  isAdmin?: boolean;

  @Field(() => Boolean, {
    nullable: true,
    description: 'false disables the user: sessions end, tokens are revoked.',
  })
  isActive?: boolean;
}

@InputType()
export class UserFilter {
  @Field(() => String, { nullable: true })
  username?: string;

  @Field(() => Boolean, { nullable: true })
  isActive?: boolean;
}

@InputType()
export class AuditEventFilter {
  @Field(() => String, { nullable: true })
  action?: string;

  @Field(() => ID, { nullable: true })
  actorId?: string;

  @Field(() => String, { nullable: true })
  targetId?: string;
}
