import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType('InitialAccessToken', {
  description: 'An RFC 7591 initial access token (metadata only: the token is shown once, at creation).',
})
export class InitialAccessTokenType {
  @Field(() => ID)
  id!: string;

  @Field(() => Int, { nullable: true, description: 'Registrations it allowed at creation; null: unlimited.' })
  uses!: number | null;

  @Field(() => Int, { nullable: true, description: 'Registrations still allowed; null: unlimited.' })
  usesLeft!: number | null;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;

  @Field(() => String)
  createdBy!: string;

  @Field(() => Date)
  createdAt!: Date;
}

@InputType()
export class CreateInitialAccessTokenInput {
  @Field(() => Int, { nullable: true, description: 'Seconds until it expires; omitted: never.' })
  expiresIn?: number | null;

  @Field(() => Int, { nullable: true, description: 'Registrations it allows; omitted: unlimited.' })
  uses?: number | null;
}

@ObjectType()
export class CreateInitialAccessTokenPayload {
  @Field(() => InitialAccessTokenType)
  initialAccessToken!: InitialAccessTokenType;

  @Field(() => String, {
    description: 'The token: shown only here, once (Authorization: Bearer at /o/register/).',
  })
  token!: string;
}
