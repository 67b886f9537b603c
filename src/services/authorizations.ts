import { isUuid } from '../entities/base.js';
import { requireUser } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx } from './context.js';
import { NotFoundError } from './errors.js';
import { revokeGrantFor } from './grants.js';

/** An application the viewer gave access to (an active grant). */
export interface Authorization {
  id: string;
  applicationId: string;
  applicationName: string;
  clientId: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** The viewer's active grants, newest first (pages and GraphQL show the same list). */
export async function listAuthorizations(ctx: Ctx): Promise<Authorization[]> {
  const user = requireUser(ctx);
  const rows = await ctx.sql.query<{
    id: string;
    application_id: string;
    name: string;
    client_id: string;
    scopes: string[];
    created_at: Date;
    last_used_at: Date | null;
  }>(
    `select g.id, g.application_id, a.name, a.client_id, g.scopes, g.created_at, g.last_used_at
       from grants g join applications a on a.id = g.application_id
      where g.user_id = $1 and g.revoked_at is null
      order by g.created_at desc`,
    [user.id],
  );
  return rows.map((r) => ({
    id: r.id,
    applicationId: r.application_id,
    applicationName: r.name,
    clientId: r.client_id,
    scopes: r.scopes,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
  }));
}

/** Revokes the viewer's grant to an application and every token issued under it. */
export async function revokeAuthorization(ctx: Ctx, applicationId: string): Promise<void> {
  const user = requireUser(ctx);
  if (!isUuid(applicationId) || !(await revokeGrantFor(ctx.sql, user.id, applicationId))) {
    throw new NotFoundError('You have not authorized this application.');
  }
  await recordAudit(ctx, 'authorization.revoke', { type: 'application', id: applicationId }, {});
}
