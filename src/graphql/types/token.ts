import { Field, ID, Int, ObjectType } from 'type-graphql';
import { TokenKindValue } from './enums.js';
import { PageInfo } from './page-info.js';

@ObjectType('Token', { description: 'An issued access or refresh token: metadata only, never its value.' })
export class TokenType {
  @Field(() => ID)
  id!: string;

  @Field(() => TokenKindValue)
  kind!: TokenKindValue;

  applicationId!: string;
  userId!: string | null;

  @Field(() => [String])
  scopes!: string[];

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  expiresAt!: Date;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;

  @Field(() => Boolean)
  active!: boolean;
}

@ObjectType()
export class TokenEdge {
  @Field(() => TokenType)
  node!: TokenType;

  @Field(() => String)
  cursor!: string;
}

@ObjectType()
export class TokenConnection {
  @Field(() => [TokenEdge])
  edges!: TokenEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}
