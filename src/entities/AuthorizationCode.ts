import {
  ArrayType,
  Entity,
  Index,
  ManyToOne,
  type Opt,
  PrimaryKey,
  Property,
  type Rel,
  Unique,
} from '@mikro-orm/core';
import { Application } from './Application.js';
import { newId, timestamptz } from './base.js';
import { Grant } from './Grant.js';
import { User } from './User.js';

/** RFC 6749 §4.1.2 authorization code, bound to client, redirect URI and PKCE challenge. */
@Entity({ tableName: 'authorization_codes' })
export class AuthorizationCode {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Unique({ name: 'authorization_codes_code_digest_unique' })
  @Property({ type: 'blob', columnType: 'bytea', hidden: true })
  codeDigest!: Buffer;

  @Index({ name: 'authorization_codes_application_id_index' })
  @ManyToOne({ entity: () => Application, deleteRule: 'cascade' })
  application!: Rel<Application>;

  @Index({ name: 'authorization_codes_user_id_index' })
  @ManyToOne({ entity: () => User, deleteRule: 'cascade' })
  user!: Rel<User>;

  @Index({ name: 'authorization_codes_grant_id_index' })
  @ManyToOne({ entity: () => Grant, deleteRule: 'cascade' })
  grant!: Rel<Grant>;

  /** The redirect_uri sent to /o/authorize/, or null when the client relied on its only one. */
  @Property({ type: 'text', nullable: true })
  redirectUri?: string | null;

  @Property({ type: ArrayType, columnType: 'text[]' })
  scopes: string[] = [];

  /** The resources (RFC 8707) the authorization request named; a token is for one of them. */
  @Property({ type: ArrayType, columnType: 'text[]', defaultRaw: "'{}'" })
  resources: Opt<string[]> = [];

  @Property({ type: 'string', length: 128, nullable: true })
  codeChallenge?: string | null;

  @Property({ type: 'string', length: 8, nullable: true })
  codeChallengeMethod?: 'S256' | 'plain' | null;

  @Property({ type: 'text', nullable: true })
  nonce?: string | null;

  /** RFC 9449 §10: the `dpop_jkt` of the authorization request; the redemption's proof key must match. */
  @Property({ type: 'string', length: 64, nullable: true })
  dpopJkt?: string | null;

  @Property({ ...timestamptz })
  authTime!: Date;

  /** The session's authentication methods (RFC 8176), repeated in the id_token. */
  @Property({ type: 'text[]', nullable: true })
  amr?: string[] | null;

  /** Browser session id (OIDC `sid`), for front-channel and RP-initiated logout. */
  @Property({ type: 'uuid', nullable: true })
  sid?: string | null;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Index({ name: 'authorization_codes_expires_at_index' })
  @Property({ ...timestamptz })
  expiresAt!: Date;

  @Property({ ...timestamptz, nullable: true })
  consumedAt?: Date | null;
}
