import { Field, ID, Int, ObjectType } from 'type-graphql';
import { PageInfo } from './page-info.js';

@ObjectType('User', { description: 'A person who logs in to Latchkey.' })
export class UserType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  username!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Visible to the user themself and to admins; null otherwise.',
  })
  email!: string | null;

  @Field(() => Boolean)
  isAdmin!: boolean;

  @Field(() => Boolean)
  isActive!: boolean;

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType()
export class UserEdge {
  @Field(() => UserType)
  node!: UserType;

  @Field(() => String)
  cursor!: string;
}

@ObjectType()
export class UserConnection {
  @Field(() => [UserEdge])
  edges!: UserEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}
