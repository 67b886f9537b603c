import { Entity, type Opt, PrimaryKey, Property } from '@mikro-orm/core';
import { timestamptz } from './base.js';

/**
 * Secret material the server generates on first start (cookie and CSRF keys). Stored in the
 * database so that every instance sharing it uses the same keys.
 */
@Entity({ tableName: 'server_secrets' })
export class ServerSecret {
  @PrimaryKey({ type: 'string', length: 64 })
  name!: string;

  @Property({ type: 'text', hidden: true })
  value!: string;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();
}
