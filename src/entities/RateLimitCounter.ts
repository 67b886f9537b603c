import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';
import { timestamptz } from './base.js';

/**
 * A fixed-window failure counter (login, client authentication, device user codes). Lives in
 * the database so that every instance enforces one limit.
 */
@Entity({ tableName: 'rate_limit_counters' })
export class RateLimitCounter {
  /** e.g. "login:user:alice|10.0.0.1" */
  @PrimaryKey({ type: 'string', length: 300 })
  key!: string;

  @Property({ type: 'integer' })
  count!: number;

  @Index({ name: 'rate_limit_counters_expires_at_index' })
  @Property({ ...timestamptz })
  expiresAt!: Date;
}
