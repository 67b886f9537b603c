import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { canManage } from '../../services/access.js';
import { listTokens, revokeTokenById, revokeTokensMatching } from '../../services/token-management.js';
import type { GqlContext } from '../context.js';
import { toApplication, toConnection, toToken, toUser } from '../mappers.js';
import { ApplicationType } from '../types/application.js';
import { TokenFilter } from '../types/inputs.js';
import { TokenConnection, TokenType } from '../types/token.js';
import { UserType } from '../types/user.js';

@Resolver(() => TokenType)
export class TokenResolver {
  @Query(() => TokenConnection, {
    description: 'Tokens of your applications and tokens issued to you (admins: all). Metadata only.',
  })
  async tokens(
    @Ctx() { ctx }: GqlContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('filter', () => TokenFilter, { nullable: true }) filter?: TokenFilter,
  ): Promise<TokenConnection> {
    return toConnection(await listTokens(ctx, { first, after }, filter ?? {}), toToken);
  }

  @Mutation(() => TokenType, {
    description: 'Revokes one token (a refresh token takes its access tokens with it).',
  })
  async revokeToken(@Ctx() { ctx }: GqlContext, @Arg('id', () => ID) id: string): Promise<TokenType> {
    return toToken(await revokeTokenById(ctx, id));
  }

  @Mutation(() => Int, {
    description: 'Revokes every active token you may see that matches the filter; returns how many.',
  })
  async revokeTokens(
    @Ctx() { ctx }: GqlContext,
    @Arg('filter', () => TokenFilter) filter: TokenFilter,
  ): Promise<number> {
    return revokeTokensMatching(ctx, filter);
  }

  @FieldResolver(() => ApplicationType, {
    nullable: true,
    description: 'The application, if you may manage it (its owner or an admin).',
  })
  async application(
    @Root() token: TokenType,
    @Ctx() { ctx, loaders }: GqlContext,
  ): Promise<ApplicationType | null> {
    const app = await loaders.application.load(token.applicationId);
    return app && canManage(ctx, app) ? toApplication(app) : null;
  }

  @FieldResolver(() => UserType, {
    nullable: true,
    description: 'The user; null for client_credentials tokens.',
  })
  async user(@Root() token: TokenType, @Ctx() { ctx, loaders }: GqlContext): Promise<UserType | null> {
    if (!token.userId) return null;
    const user = await loaders.user.load(token.userId);
    return user ? toUser(ctx, user) : null;
  }

  @FieldResolver(() => String, { description: 'The client_id of the application the token was issued to.' })
  async clientId(@Root() token: TokenType, @Ctx() { loaders }: GqlContext): Promise<string> {
    return (await loaders.application.load(token.applicationId))?.clientId ?? '';
  }
}
