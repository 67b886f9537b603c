import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType('Authorization', { description: 'An application the viewer gave access to (an active grant).' })
export class AuthorizationType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  applicationId!: string;

  @Field(() => String)
  applicationName!: string;

  @Field(() => String)
  clientId!: string;

  @Field(() => [String])
  scopes!: string[];

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  lastUsedAt!: Date | null;
}
