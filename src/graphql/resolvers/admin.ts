import { Arg, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import { listAuditEvents } from '../../services/audit.js';
import { listSigningKeys, rotateSigningKeys } from '../../services/key-rotation.js';
import type { GqlContext } from '../context.js';
import { toAuditEvent, toConnection, toSigningKey } from '../mappers.js';
import { AuditEventConnection } from '../types/audit.js';
import { AuditEventFilter } from '../types/inputs.js';
import { SigningKeyType } from '../types/signing-key.js';

@Resolver()
export class AdminResolver {
  @Query(() => AuditEventConnection, { description: 'Admins only: the audit trail, newest first.' })
  async auditEvents(
    @Ctx() { ctx }: GqlContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('filter', () => AuditEventFilter, { nullable: true }) filter?: AuditEventFilter,
  ): Promise<AuditEventConnection> {
    return toConnection(await listAuditEvents(ctx, { first, after }, filter ?? {}), toAuditEvent);
  }

  @Query(() => [SigningKeyType], { description: 'Admins only: the published signing keys (public data).' })
  signingKeys(@Ctx() { ctx }: GqlContext): SigningKeyType[] {
    return listSigningKeys(ctx).map(toSigningKey);
  }

  @Mutation(() => [SigningKeyType], {
    description:
      'Admins only: new keys become active; the previous ones stay published until their tokens expire.',
  })
  async rotateSigningKey(@Ctx() { ctx }: GqlContext): Promise<SigningKeyType[]> {
    return (await rotateSigningKeys(ctx)).map(toSigningKey);
  }
}
