import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditEvent } from '../entities/AuditEvent.js';
import { isUuid } from '../entities/base.js';
import { User } from '../entities/User.js';
import { requireAdmin } from './access.js';
import type { Ctx } from './context.js';
import { ValidationError } from './errors.js';
import { findPage, type Page, type PageArgs } from './pagination.js';

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
    case 'registration':
      return actor.clientId ? `registration:${actor.clientId}` : 'registration';
    default:
      return 'anonymous';
  }
}

/**
 * Appends one audit event, for services after their own check (no door calls it). Details must
 * never hold secrets: callers pass names and flags only. `em` is the transaction's
 * EntityManager when the event belongs to a change of several steps (it commits with it).
 */
export async function recordAudit(
  ctx: Ctx,
  action: string,
  target: AuditTarget | null,
  details: Record<string, unknown> = {},
  em: EntityManager = ctx.em,
): Promise<void> {
  const user = ctx.user;
  const event = em.create(AuditEvent, {
    actor: user ? em.getReference(User, user.id) : null,
    actorLabel: actorLabel(ctx),
    action,
    targetType: target?.type ?? null,
    targetId: target?.id ?? null,
    ip: ctx.ip ?? null,
    details,
  });
  await em.persistAndFlush(event);
}

export interface AuditFilter {
  action?: string | null;
  actorId?: string | null;
  targetId?: string | null;
}

/** The audit trail, newest first (admins only). */
export async function listAuditEvents(
  ctx: Ctx,
  args: PageArgs,
  filter: AuditFilter = {},
): Promise<Page<AuditEvent>> {
  requireAdmin(ctx);
  const where: FilterQuery<AuditEvent> & Record<string, unknown> = {};
  if (filter.action) where.action = filter.action;
  if (filter.actorId) {
    if (!isUuid(filter.actorId)) throw new ValidationError('actorId', 'actorId is not a valid id.');
    where.actor = filter.actorId;
  }
  if (filter.targetId) where.targetId = filter.targetId;
  return findPage(ctx.em, AuditEvent, where, args);
}
