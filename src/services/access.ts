import type { Application } from '../entities/Application.js';
import type { Ctx, Viewer } from './context.js';
import { ForbiddenError, UnauthenticatedError } from './errors.js';

/**
 * Who may do what, in one place. Every service function that GraphQL resolvers, pages or the
 * CLI call asks these itself, first thing — so a new door calling the service gets the check
 * for free. Resolvers and pages decide nothing; they only shape answers (a NotFoundError as
 * null or a 404 page). test/unit/service-permissions.test.ts holds every such entry point to it.
 *
 * The protocol door (token, revocation, introspection, device authorization endpoints and the
 * authorization code redemption behind them) has no actor: it authenticates the client itself
 * (src/oauth/client-auth.ts) and calls the protocol functions (token issue, code redemption,
 * refresh rotation, device polling) with what that authentication proved. Those functions
 * take no Ctx actor and check nothing here.
 */
export function requireUser(ctx: Ctx): Viewer {
  const actor = ctx.actor;
  if (actor.kind === 'user') return actor.user;
  if (actor.kind === 'client' || actor.kind === 'registration')
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

/**
 * A user (any) or the CLI: for lookups whose rows each caller then narrows to what the actor
 * may see (listings, batch loads behind a listing).
 */
export function requireUserOrCli(ctx: Ctx): void {
  if (ctx.actor.kind !== 'cli') requireUser(ctx);
}

/**
 * May the actor see and change this application? Owners and admins may; the CLI may; the
 * holder of a dynamically registered application's registration access token may (RFC 7592).
 */
export function canManage(ctx: Ctx, app: Pick<Application, 'owner' | 'clientId'>): boolean {
  if (isPrivileged(ctx)) return true;
  if (ctx.actor.kind === 'registration') return ctx.actor.clientId === app.clientId;
  const user = ctx.user;
  return user !== undefined && app.owner != null && app.owner.id === user.id;
}
