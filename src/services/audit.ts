import { AuditEvent } from '../entities/AuditEvent.js';
import { User } from '../entities/User.js';
import type { Ctx } from './context.js';

export interface AuditTarget {
  type: string;
  id: string;
}

function actorLabel(ctx: Ctx): string {
  const actor = ctx.actor;
  switch (actor.kind) {
    case 'user':
      return actor.user.username;
    case 'client':
      return `client:${actor.clientId}`;
    case 'cli':
      return 'cli';
    default:
      return 'anonymous';
  }
}

/** Appends one audit event. Details must never hold secrets: callers pass names and flags only. */
export async function recordAudit(
  ctx: Ctx,
  action: string,
  target: AuditTarget | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  const user = ctx.user;
  const event = ctx.em.create(AuditEvent, {
    actor: user ? ctx.em.getReference(User, user.id) : null,
    actorLabel: actorLabel(ctx),
    action,
    targetType: target?.type ?? null,
    targetId: target?.id ?? null,
    ip: ctx.ip ?? null,
    details,
  });
  await ctx.em.persistAndFlush(event);
}
