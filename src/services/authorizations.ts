import { listGrantsOfUser, type UserGrant } from '../db/tables/grants.js';
import { isUuid } from '../entities/base.js';
import { requireUser } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx } from './context.js';
import { NotFoundError } from './errors.js';
import { revokeGrantFor } from './grants.js';

/** An application the viewer gave access to (an active grant). */
export type Authorization = UserGrant;

/** The viewer's active grants, newest first (pages and GraphQL show the same list). */
export async function listAuthorizations(ctx: Ctx): Promise<Authorization[]> {
  const user = requireUser(ctx);
  return listGrantsOfUser(ctx.sql, user.id);
}

/** Revokes the viewer's grant to an application and every token issued under it. */
export async function revokeAuthorization(ctx: Ctx, applicationId: string): Promise<void> {
  const user = requireUser(ctx);
  if (!isUuid(applicationId) || !(await revokeGrantFor(ctx.sql, user.id, applicationId))) {
    throw new NotFoundError('You have not authorized this application.');
  }
  await recordAudit(ctx, 'authorization.revoke', { type: 'application', id: applicationId }, {});
}
