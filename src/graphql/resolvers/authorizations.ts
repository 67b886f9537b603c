import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { listAuthorizations, revokeAuthorization } from '../../services/authorizations.js';
import type { GqlContext } from '../context.js';
import { toAuthorization } from '../mappers.js';
import { AuthorizationType } from '../types/authorization.js';

@Resolver()
export class AuthorizationResolver {
  @Query(() => [AuthorizationType], { description: 'The applications you gave access to your account.' })
  async authorizations(@Ctx() { ctx }: GqlContext): Promise<AuthorizationType[]> {
    return (await listAuthorizations(ctx)).map(toAuthorization);
  }

  @Mutation(() => Boolean, {
    description: 'Withdraws your consent: the grant and every token issued under it are revoked.',
  })
  async revokeAuthorization(
    @Ctx() { ctx }: GqlContext,
    @Arg('applicationId', () => ID) applicationId: string,
  ): Promise<boolean> {
    await revokeAuthorization(ctx, applicationId);
    return true;
  }
}
