import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { InitialAccessToken } from '../../entities/InitialAccessToken.js';
import {
  createInitialAccessToken,
  listInitialAccessTokens,
  revokeInitialAccessToken,
} from '../../services/initial-access-tokens.js';
import type { GqlContext } from '../context.js';
import {
  CreateInitialAccessTokenInput,
  CreateInitialAccessTokenPayload,
  InitialAccessTokenType,
} from '../types/initial-access-token.js';

function toInitialAccessToken(t: InitialAccessToken): InitialAccessTokenType {
  return {
    id: t.id,
    uses: t.uses ?? null,
    usesLeft: t.usesLeft ?? null,
    expiresAt: t.expiresAt ?? null,
    revokedAt: t.revokedAt ?? null,
    createdBy: t.createdBy,
    createdAt: t.createdAt,
  };
}

@Resolver()
export class InitialAccessTokenResolver {
  @Query(() => [InitialAccessTokenType], {
    description: 'Admins only: RFC 7591 initial access tokens, newest first (metadata only).',
  })
  async initialAccessTokens(@Ctx() { ctx }: GqlContext): Promise<InitialAccessTokenType[]> {
    return (await listInitialAccessTokens(ctx)).map(toInitialAccessToken);
  }

  @Mutation(() => CreateInitialAccessTokenPayload, {
    description: 'Admins only: a token that lets a client register itself when DYNAMIC_REGISTRATION=token.',
  })
  async createInitialAccessToken(
    @Ctx() { ctx }: GqlContext,
    @Arg('input', () => CreateInitialAccessTokenInput, { nullable: true })
    input?: CreateInitialAccessTokenInput,
  ): Promise<CreateInitialAccessTokenPayload> {
    const { token, record } = await createInitialAccessToken(ctx, {
      expiresIn: input?.expiresIn,
      uses: input?.uses,
    });
    return { token, initialAccessToken: toInitialAccessToken(record) };
  }

  @Mutation(() => InitialAccessTokenType, { description: 'Admins only: the token stops working at once.' })
  async revokeInitialAccessToken(
    @Ctx() { ctx }: GqlContext,
    @Arg('id', () => ID) id: string,
  ): Promise<InitialAccessTokenType> {
    return toInitialAccessToken(await revokeInitialAccessToken(ctx, id));
  }
}
