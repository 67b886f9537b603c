import type { Sql } from '../db/sql.js';
import { revokeGrant } from '../db/tables/grants.js';

export { type CoveringGrant, findActiveGrant, type GrantRow, upsertGrant } from '../db/tables/grants.js';

/** Revokes a grant and, in the same statement, every token and unused code issued under it. */
export function revokeGrantById(sql: Sql, grantId: string): Promise<boolean> {
  return revokeGrant(sql, { grantId });
}

/** Revokes the user's active grant for an application (and everything issued under it). */
export function revokeGrantFor(sql: Sql, userId: string, applicationId: string): Promise<boolean> {
  return revokeGrant(sql, { userId, applicationId });
}
