import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { createUser, deleteUser, listUsers, updateUser } from '../../services/users.js';
import type { GqlContext } from '../context.js';
import { toConnection, toUser } from '../mappers.js';
import { CreateUserInput, UpdateUserInput, UserFilter } from '../types/inputs.js';
import { UserConnection, UserType } from '../types/user.js';

@Resolver()
export class UserResolver {
  @Query(() => UserConnection, { description: 'Admins only.' })
  async users(
    @Ctx() { ctx }: GqlContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('filter', () => UserFilter, { nullable: true }) filter?: UserFilter,
  ): Promise<UserConnection> {
    return toConnection(await listUsers(ctx, { first, after }, filter ?? {}), (u) => toUser(ctx, u));
  }

  @Mutation(() => UserType, { description: 'Admins only.' })
  async createUser(
    @Ctx() { ctx }: GqlContext,
    @Arg('input', () => CreateUserInput) input: CreateUserInput,
  ): Promise<UserType> {
    return toUser(ctx, await createUser(ctx, input));
  }

  @Mutation(() => UserType, {
    description: 'Admins only. isActive: false ends the user’s sessions and revokes their tokens.',
  })
  async updateUser(
    @Ctx() { ctx }: GqlContext,
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateUserInput) input: UpdateUserInput,
  ): Promise<UserType> {
    const changes = Object.fromEntries(
      Object.entries(input).filter(([, v]) => v !== null && v !== undefined),
    );
    return toUser(ctx, await updateUser(ctx, id, changes));
  }

  @Mutation(() => Boolean, {
    description: 'Admins only. Deletes the user with their applications, grants and tokens.',
  })
  async deleteUser(@Ctx() { ctx }: GqlContext, @Arg('id', () => ID) id: string): Promise<boolean> {
    await deleteUser(ctx, id);
    return true;
  }
}
