import { Field, ID, ObjectType } from 'type-graphql';
import { SigningAlgorithmValue } from './enums.js';

@ObjectType('SigningKey', {
  description: 'A public signing key as published in the JWKS. Private keys never leave the server.',
})
export class SigningKeyType {
  @Field(() => ID, { description: 'The JWK kid.' })
  kid!: string;

  @Field(() => SigningAlgorithmValue)
  alg!: SigningAlgorithmValue;

  @Field(() => String, { description: 'active or previous' })
  status!: string;

  @Field(() => Date, { nullable: true, description: 'When a previous key leaves the JWKS.' })
  expiresAt!: Date | null;
}
