import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { AccessTokenFormatValue } from './enums.js';

@ObjectType('Resource', {
  description:
    'A protected resource (RFC 8707). A token requested with resource=<identifier> is for it alone (aud), with its scopes, format and lifetime.',
})
export class ResourceType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'Absolute URI without a fragment (RFC 8707 §2).' })
  identifier!: string;

  @Field(() => String)
  name!: string;

  @Field(() => [String], { description: 'Scopes a token for it may carry; empty: any.' })
  scopes!: string[];

  @Field(() => AccessTokenFormatValue)
  accessTokenFormat!: AccessTokenFormatValue;

  @Field(() => Int, { nullable: true, description: 'Seconds; null: ACCESS_TOKEN_TTL.' })
  accessTokenTtl!: number | null;

  @Field(() => Date)
  createdAt!: Date;
}

@InputType()
export class CreateResourceInput {
  @Field(() => String)
  identifier!: string;

  @Field(() => String)
  name!: string;

  @Field(() => [String], { nullable: true })
  scopes?: string[];

  @Field(() => AccessTokenFormatValue, { nullable: true })
  accessTokenFormat?: AccessTokenFormatValue;

  @Field(() => Int, { nullable: true })
  accessTokenTtl?: number | null;
}

@InputType()
export class UpdateResourceInput {
  @Field(() => String, { nullable: true })
  identifier?: string;

  @Field(() => String, { nullable: true })
  name?: string;

  @Field(() => [String], { nullable: true })
  scopes?: string[];

  @Field(() => AccessTokenFormatValue, { nullable: true })
  accessTokenFormat?: AccessTokenFormatValue;

  @Field(() => Int, { nullable: true, description: 'Seconds; send resetAccessTokenTtl to use the default.' })
  accessTokenTtl?: number;

  @Field(() => Boolean, { nullable: true, description: 'Back to ACCESS_TOKEN_TTL.' })
  resetAccessTokenTtl?: boolean;
}
