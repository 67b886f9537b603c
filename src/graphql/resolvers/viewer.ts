import { Ctx, Query, Resolver } from 'type-graphql';
import type { GqlContext } from '../context.js';
import { toUser } from '../mappers.js';
import { UserType } from '../types/user.js';

@Resolver()
export class ViewerResolver {
  @Query(() => UserType, { nullable: true, description: 'The logged-in user; null when anonymous.' })
  async viewer(@Ctx() { ctx, loaders }: GqlContext): Promise<UserType | null> {
    const user = ctx.user;
    if (!user) return null;
    const entity = await loaders.user.load(user.id);
    return entity ? toUser(ctx, entity) : null;
  }
}
