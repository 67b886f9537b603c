import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import {
  AccessTokenFormatValue,
  ApplicationProfileValue,
  ClientTypeValue,
  GrantTypeValue,
  SigningAlgorithmValue,
} from './enums.js';
import { PageInfo } from './page-info.js';

@ObjectType('Application', {
  description: 'A client application. Its secret is never readable after creation.',
})
export class ApplicationType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  clientId!: string;

  @Field(() => String)
  name!: string;

  @Field(() => ClientTypeValue)
  clientType!: ClientTypeValue;

  @Field(() => [GrantTypeValue])
  grantTypes!: GrantTypeValue[];

  @Field(() => [String])
  redirectUris!: string[];

  @Field(() => [String])
  postLogoutRedirectUris!: string[];

  @Field(() => [String])
  allowedOrigins!: string[];

  @Field(() => [String])
  scopes!: string[];

  @Field(() => Boolean)
  skipAuthorization!: boolean;

  @Field(() => Boolean, {
    description: 'RFC 9449: every token request must carry a DPoP proof, so every token is DPoP-bound.',
  })
  requireDpop!: boolean;

  @Field(() => AccessTokenFormatValue)
  accessTokenFormat!: AccessTokenFormatValue;

  @Field(() => SigningAlgorithmValue)
  idTokenSignedResponseAlg!: SigningAlgorithmValue;

  @Field(() => String, { description: 'RFC 7591 token_endpoint_auth_method.' })
  tokenEndpointAuthMethod!: string;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'RFC 7591 jwks: the public keys of a PRIVATE_KEY_JWT client (RFC 7523).',
  })
  jwks!: Record<string, unknown> | null;

  @Field(() => String, { nullable: true, description: 'RFC 7591 jwks_uri of a PRIVATE_KEY_JWT client.' })
  jwksUri!: string | null;

  @Field(() => Boolean, { description: 'RFC 9126 §6: authorization requests must be pushed (PAR).' })
  requirePar!: boolean;

  @Field(() => ApplicationProfileValue)
  profile!: ApplicationProfileValue;

  @Field(() => Boolean, {
    description: 'OAuth 2.1 §4.3.1: each refresh replaces the refresh token (off for FAPI2 applications).',
  })
  rotateRefreshTokens!: boolean;

  @Field(() => [String], {
    description:
      'RFC 8693: the resources a token exchange may target (empty: token exchange issues nothing).',
  })
  tokenExchangeAudiences!: string[];

  @Field(() => Boolean, {
    description:
      'RFC 8693: exchanges without an actor_token (impersonation) are allowed; off, delegation only.',
  })
  tokenExchangeImpersonation!: boolean;

  @Field(() => Boolean, { description: 'RFC 8693 §2.2.1: an exchange may also return a refresh token.' })
  tokenExchangeRefreshTokens!: boolean;
  @Field(() => String, {
    nullable: true,
    description:
      'OpenID Connect Back-Channel Logout 1.0 backchannel_logout_uri: where a logout token is POSTed when a session that signed in to this application ends.',
  })
  backchannelLogoutUri!: string | null;

  @Field(() => Boolean, {
    description: 'Back-Channel Logout backchannel_logout_session_required (logout tokens always carry sid).',
  })
  backchannelLogoutSessionRequired!: boolean;

  /** Resolved through a loader; the owner's id is kept for it (null: dynamically registered). */
  ownerId!: string | null;

  @Field(() => Boolean, {
    description: 'Registered through RFC 7591 dynamic registration (no owner; bounded by server policy).',
  })
  dynamicallyRegistered!: boolean;

  @Field(() => Boolean, {
    description:
      'Defined by the client ID metadata document at its clientId URL (no owner; changed only by the document).',
  })
  clientIdMetadataDocument!: boolean;

  @Field(() => String, {
    nullable: true,
    description: 'RFC 7591 client_uri, as the client asserted it (unverified).',
  })
  clientUri!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'RFC 7591 logo_uri, as the client asserted it (unverified).',
  })
  logoUri!: string | null;

  @Field(() => [String], { description: 'RFC 7591 contacts, as the client asserted them (unverified).' })
  contacts!: string[];

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType()
export class ApplicationEdge {
  @Field(() => ApplicationType)
  node!: ApplicationType;

  @Field(() => String)
  cursor!: string;
}

@ObjectType()
export class ApplicationConnection {
  @Field(() => [ApplicationEdge])
  edges!: ApplicationEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ObjectType()
export class CreateApplicationPayload {
  @Field(() => ApplicationType)
  application!: ApplicationType;

  @Field(() => String, {
    nullable: true,
    description:
      'The client secret: shown only here, once. Null for public clients and PRIVATE_KEY_JWT clients (they use keys).',
  })
  clientSecret!: string | null;
}

@ObjectType()
export class RotateClientSecretPayload {
  @Field(() => ApplicationType)
  application!: ApplicationType;

  @Field(() => String, {
    description: 'The new client secret: shown only here, once. The old one no longer works.',
  })
  clientSecret!: string;
}
