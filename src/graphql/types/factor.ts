import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';

export enum FactorKindValue {
  TOTP = 'totp',
  WEBAUTHN = 'webauthn',
}
registerEnumType(FactorKindValue, {
  name: 'FactorKind',
  description: 'TOTP: an authenticator app (RFC 6238). WEBAUTHN: a passkey or security key.',
});

@ObjectType('Factor', { description: 'A second factor of a user. Never carries a secret or key.' })
export class FactorType {
  @Field(() => ID)
  id!: string;

  @Field(() => FactorKindValue)
  kind!: FactorKindValue;

  @Field(() => String)
  name!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  lastUsedAt!: Date | null;
}
