import {
  Entity,
  Index,
  JsonType,
  ManyToOne,
  type Opt,
  PrimaryKey,
  Property,
  type Rel,
} from '@mikro-orm/core';
import { newId, timestamptz } from './base.js';
import { User } from './User.js';

/** Who did what to which object, when and from where. Kept when the actor is deleted. */
@Entity({ tableName: 'audit_events' })
export class AuditEvent {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Index({ name: 'audit_events_actor_id_index' })
  @ManyToOne({ entity: () => User, deleteRule: 'set null', nullable: true })
  actor?: Rel<User> | null;

  /** The actor as it was named at the time ("alice", "cli", "client:abc"). */
  @Property({ type: 'string', length: 200 })
  actorLabel!: string;

  @Index({ name: 'audit_events_action_index' })
  @Property({ type: 'string', length: 64 })
  action!: string;

  @Property({ type: 'string', length: 32, nullable: true })
  targetType?: string | null;

  @Index({ name: 'audit_events_target_id_index' })
  @Property({ type: 'string', length: 64, nullable: true })
  targetId?: string | null;

  @Property({ type: 'string', length: 64, nullable: true })
  ip?: string | null;

  @Property({ type: JsonType, columnType: 'jsonb', default: '{}' })
  details: Opt<Record<string, unknown>> = {};

  @Index({ name: 'audit_events_created_at_index' })
  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();
}
