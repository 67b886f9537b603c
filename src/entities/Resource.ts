import { ArrayType, Entity, type Opt, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import type { AccessTokenFormat } from './Application.js';
import { newId, timestamptz } from './base.js';

/**
 * A protected resource (RFC 8707): a token requested with `resource=<identifier>` is for it
 * alone (its `aud`), limited to the scopes it accepts, in its format and lifetime.
 */
@Entity({ tableName: 'resources' })
export class Resource {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  /** An absolute URI without a fragment (RFC 8707 §2), compared exactly. */
  @Unique({ name: 'resources_identifier_unique' })
  @Property({ type: 'text' })
  identifier!: string;

  @Property({ type: 'string', length: 200 })
  name!: string;

  /** The scopes a token for this resource may carry; empty: any the application may have. */
  @Property({ type: ArrayType, columnType: 'text[]' })
  scopes: string[] = [];

  @Property({ type: 'string', length: 8, default: 'opaque' })
  accessTokenFormat: Opt<AccessTokenFormat> = 'opaque';

  /** Seconds; null: ACCESS_TOKEN_TTL. */
  @Property({ type: 'integer', nullable: true })
  accessTokenTtl?: number | null;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  updatedAt: Opt<Date> = new Date();
}
