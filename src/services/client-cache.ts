import type { Sql } from '../db/sql.js';
import type {
  AccessTokenFormat,
  ClientType,
  GrantType,
  SigningAlg,
  TokenEndpointAuthMethod,
} from '../entities/Application.js';
import { type Ctx, isServerRuntime } from './context.js';

/** What the protocol endpoints need to know about a client, read with one indexed lookup. */
export interface ClientRecord {
  id: string;
  clientId: string;
  name: string;
  clientType: ClientType;
  secretDigest: Buffer | null;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  grantTypes: GrantType[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  allowedOrigins: string[];
  scopes: string[];
  skipAuthorization: boolean;
  accessTokenFormat: AccessTokenFormat;
  idTokenSignedResponseAlg: SigningAlg;
  /** Null for dynamically registered applications. */
  ownerUsername: string | null;
}

interface Entry {
  record: ClientRecord | null;
  expires: number;
}

export const CLIENT_CHANNEL = 'latchkey_clients';

/**
 * Client records cached per process for CLIENT_CACHE_TTL seconds (0 disables the cache).
 * Every change (update, secret rotation, deletion) drops the local entry at once and tells other
 * instances with NOTIFY, so a rotated secret is refused everywhere immediately; the TTL only
 * bounds staleness if a notification is ever lost.
 */
export class ClientCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries = 10_000;

  constructor(
    private readonly sql: Sql,
    private readonly ttlSeconds: number,
  ) {}

  async get(clientId: string): Promise<ClientRecord | null> {
    const now = Date.now();
    const hit = this.entries.get(clientId);
    if (hit && hit.expires > now) return hit.record;
    const record = await loadClient(this.sql, clientId);
    if (this.ttlSeconds > 0) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      this.entries.set(clientId, { record, expires: now + this.ttlSeconds * 1000 });
    }
    return record;
  }

  invalidate(clientId?: string): void {
    if (clientId === undefined) this.entries.clear();
    else this.entries.delete(clientId);
    // Any client change may add or remove an allowed origin.
    this.origins.clear();
  }

  private readonly origins = new Map<string, { allowed: boolean; expires: number }>();

  /** Does any application allow this origin? (CORS preflights, which carry no client identity.) */
  async isRegisteredOrigin(origin: string): Promise<boolean> {
    if (origin.length > 300) return false;
    const now = Date.now();
    const hit = this.origins.get(origin);
    if (hit && hit.expires > now) return hit.allowed;
    const rows = await this.sql.query(
      'select 1 from applications where allowed_origins @> array[$1]::text[] limit 1',
      [origin],
    );
    const allowed = rows.length > 0;
    if (this.ttlSeconds > 0) {
      if (this.origins.size >= this.maxEntries) this.origins.clear();
      this.origins.set(origin, { allowed, expires: now + this.ttlSeconds * 1000 });
    }
    return allowed;
  }
}

/** The one statement that loads a client record (exported so tests can tell cache loads apart). */
export const LOAD_CLIENT = `select a.id, a.client_id, a.name, a.client_type, a.client_secret_digest, a.token_endpoint_auth_method,
            a.grant_types, a.redirect_uris, a.post_logout_redirect_uris, a.allowed_origins, a.scopes,
            a.skip_authorization, a.access_token_format, a.id_token_signed_response_alg, u.username as owner_username
       from applications a left join users u on u.id = a.owner_id
      where a.client_id = $1`;

export async function loadClient(sql: Sql, clientId: string): Promise<ClientRecord | null> {
  if (clientId.length === 0 || clientId.length > 64) return null;
  const rows = await sql.query<ClientRow>(LOAD_CLIENT, [clientId]);
  const row = rows[0];
  if (!row) return null;
  return {
    id: row.id,
    clientId: row.client_id,
    name: row.name,
    clientType: row.client_type,
    secretDigest: row.client_secret_digest ? Buffer.from(row.client_secret_digest) : null,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    grantTypes: row.grant_types,
    redirectUris: row.redirect_uris,
    postLogoutRedirectUris: row.post_logout_redirect_uris,
    allowedOrigins: row.allowed_origins,
    scopes: row.scopes,
    skipAuthorization: row.skip_authorization,
    accessTokenFormat: row.access_token_format,
    idTokenSignedResponseAlg: row.id_token_signed_response_alg,
    ownerUsername: row.owner_username,
  };
}

interface ClientRow extends Record<string, unknown> {
  id: string;
  client_id: string;
  name: string;
  client_type: ClientType;
  client_secret_digest: Uint8Array | null;
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  grant_types: GrantType[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  allowed_origins: string[];
  scopes: string[];
  skip_authorization: boolean;
  access_token_format: AccessTokenFormat;
  id_token_signed_response_alg: SigningAlg;
  owner_username: string | null;
}

/** Drops the cached record here and on every other instance. */
export async function clientChanged(ctx: Ctx, clientId: string): Promise<void> {
  if (isServerRuntime(ctx.runtime)) ctx.runtime.clients.invalidate(clientId);
  await ctx.sql.execute('select pg_notify($1, $2)', [CLIENT_CHANNEL, clientId]);
}
