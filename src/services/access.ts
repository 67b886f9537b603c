import type { Ctx, Viewer } from './context.js';
import { ForbiddenError, UnauthenticatedError } from './errors.js';

/**
 * Who may do what, in one place. GraphQL resolvers, pages and the CLI ask these; none of them
 * decides on its own.
 */
export function requireUser(ctx: Ctx): Viewer {
  const actor = ctx.actor;
  if (actor.kind === 'user') return actor.user;
  if (actor.kind === 'client')
    throw new ForbiddenError('This token has no user: log in or use a user’s token.');
  throw new UnauthenticatedError('Authentication required.');
}

/** Admins, and the CLI (which acts with full rights on the machine that runs it). */
export function isPrivileged(ctx: Ctx): boolean {
  return ctx.actor.kind === 'cli' || (ctx.actor.kind === 'user' && ctx.actor.user.isAdmin);
}

export function requireAdmin(ctx: Ctx): void {
  if (ctx.actor.kind === 'cli') return;
  const user = requireUser(ctx);
  if (!user.isAdmin) throw new ForbiddenError('Administrators only.');
}
