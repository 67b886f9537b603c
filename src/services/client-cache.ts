import type { Sql } from '../db/sql.js';
import { type ClientRecord, loadClient } from '../db/tables/applications.js';
import { ClientMetadataDocumentError, isClientIdUrl } from './client-metadata-documents.js';
import { type Ctx, isServerRuntime } from './context.js';

export type { ClientRecord } from '../db/tables/applications.js';

/** Who caused a document resolution: the address a fetch is counted against. */
export interface DocumentRequester {
  ip: string | undefined;
}

/**
 * Turns a client identifier URL into its client record by fetching and validating the document
 * and mirroring it into the applications table; throws ClientMetadataDocumentError.
 */
export type DocumentClientResolver = (
  clientId: string,
  requester: DocumentRequester,
) => Promise<ClientRecord | null>;

interface Entry {
  record: ClientRecord | null;
  expires: number;
  /** Resolved from its metadata document (not only read from the table). */
  fromDocument?: boolean;
}

/** How long a document that could not be used is not fetched again for the same client id. */
export const DOCUMENT_FAILURE_SECONDS = 10;

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

  private readonly failures = new Map<string, { error: unknown; expires: number }>();
  private readonly resolving = new Map<string, Promise<ClientRecord | null>>();

  /** `documents`: null when CLIENT_ID_METADATA_DOCUMENTS is off; their rows then count as unknown. */
  constructor(
    private readonly sql: Sql,
    private readonly ttlSeconds: number,
    private readonly documents: DocumentClientResolver | null = null,
  ) {}

  /** The client as stored (token, revocation, userinfo, logout): never a network fetch. */
  async get(clientId: string): Promise<ClientRecord | null> {
    const now = Date.now();
    const hit = this.entries.get(clientId);
    if (hit && hit.expires > now) return hit.record;
    let record = await loadClient(this.sql, clientId);
    if (record?.metadataDocument && !this.documents) record = null;
    this.remember(clientId, { record, expires: now + this.ttlSeconds * 1000 });
    return record;
  }

  /**
   * The client an authorization request names. A client identifier URL is resolved from its
   * document (the outbound client's HTTP cache applies) at most once per CLIENT_CACHE_TTL here:
   * that is where the user decides to trust it, so that is where the document must be current.
   * Parallel requests for one URL share one fetch; a document that could not be used is
   * remembered for DOCUMENT_FAILURE_SECONDS, so a flood of requests cannot make Latchkey hammer
   * a host. A refusal about the requester (its address is over its fetch limit) or about this
   * server's load is not remembered: it says nothing about the document.
   */
  async forAuthorization(clientId: string, requester: DocumentRequester): Promise<ClientRecord | null> {
    if (!this.documents || !isClientIdUrl(clientId)) return this.get(clientId);
    const now = Date.now();
    const hit = this.entries.get(clientId);
    if (hit?.fromDocument && hit.expires > now) return hit.record;
    const failed = this.failures.get(clientId);
    if (failed && failed.expires > now) throw failed.error;
    const joined = this.resolving.get(clientId);
    if (!joined) return this.resolve(this.documents, clientId, requester);
    try {
      return await joined;
    } catch (err) {
      // The fetch this request joined was refused for whoever started it; it may cause its own.
      if (err instanceof ClientMetadataDocumentError && err.reason === 'rate_limited') {
        return this.resolving.get(clientId) ?? this.resolve(this.documents, clientId, requester);
      }
      throw err;
    }
  }

  private resolve(
    documents: DocumentClientResolver,
    clientId: string,
    requester: DocumentRequester,
  ): Promise<ClientRecord | null> {
    const pending = documents(clientId, requester)
      .then((record) => {
        this.failures.delete(clientId);
        this.remember(clientId, {
          record,
          expires: Date.now() + this.ttlSeconds * 1000,
          fromDocument: true,
        });
        return record;
      })
      .catch((error: unknown) => {
        if (error instanceof ClientMetadataDocumentError && error.aboutDocument) {
          if (this.failures.size >= this.maxEntries) this.failures.clear();
          this.failures.set(clientId, { error, expires: Date.now() + DOCUMENT_FAILURE_SECONDS * 1000 });
        }
        throw error;
      })
      .finally(() => this.resolving.delete(clientId));
    this.resolving.set(clientId, pending);
    return pending;
  }

  private remember(clientId: string, entry: Entry): void {
    if (this.ttlSeconds <= 0) return;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(clientId, entry);
  }

  invalidate(clientId?: string): void {
    if (clientId === undefined) {
      this.entries.clear();
      this.failures.clear();
    } else {
      this.entries.delete(clientId);
      this.failures.delete(clientId);
    }
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

/** Drops the cached record here and on every other instance. */
export async function clientChanged(ctx: Ctx, clientId: string): Promise<void> {
  if (isServerRuntime(ctx.runtime)) ctx.runtime.clients.invalidate(clientId);
  await ctx.sql.execute('select pg_notify($1, $2)', [CLIENT_CHANNEL, clientId]);
}
