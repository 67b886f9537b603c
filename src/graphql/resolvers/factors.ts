import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Resolver, Root } from 'type-graphql';
import { NotFoundError } from '../../services/errors.js';
import { listFactors, resetFactors } from '../../services/factors.js';
import type { GqlContext } from '../context.js';
import { type FactorKindValue, FactorType } from '../types/factor.js';
import { UserType } from '../types/user.js';

@Resolver(() => UserType)
export class FactorResolver {
  @FieldResolver(() => [FactorType], {
    nullable: true,
    description: 'The user’s second factors: visible to the user themself and to admins; null otherwise.',
  })
  async factors(@Root() user: UserType, @Ctx() { ctx }: GqlContext): Promise<FactorType[] | null> {
    try {
      return (await listFactors(ctx, user.id)).map((f) => ({
        id: f.id,
        kind: f.kind as FactorKindValue,
        name: f.name,
        createdAt: f.createdAt,
        lastUsedAt: f.lastUsedAt,
      }));
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  @Mutation(() => Int, {
    description:
      'Admins only. Removes every second factor and recovery code of a user (a lost device); audited. Returns how many factors were removed.',
  })
  async resetUserFactors(
    @Ctx() { ctx }: GqlContext,
    @Arg('userId', () => ID) userId: string,
  ): Promise<number> {
    return resetFactors(ctx, userId);
  }
}
