import type { Sql } from '../db/sql.js';
import type { AccessTokenFormat } from '../entities/Application.js';
import { isUuid } from '../entities/base.js';
import { Resource } from '../entities/Resource.js';
import { resourceUriProblem } from '../oauth/resource-indicators.js';
import { requireAdmin } from './access.js';
import { recordAudit } from './audit.js';
import { type Ctx, isServerRuntime } from './context.js';
import { ConflictError, IssueCollector, isUniqueViolation, NotFoundError } from './errors.js';

/** What the protocol endpoints need to know about a resource (RFC 8707). */
export interface ResourceRecord {
  id: string;
  identifier: string;
  /** Shown on the consent page. */
  name: string;
  scopes: string[];
  accessTokenFormat: AccessTokenFormat;
  /** Seconds, or null for ACCESS_TOKEN_TTL. */
  accessTokenTtl: number | null;
}

export const RESOURCE_CHANNEL = 'latchkey_resources';

/** The longest access-token lifetime a resource may set (one day). */
export const MAX_RESOURCE_TTL = 86_400;

/**
 * Resources cached per process like clients (CLIENT_CACHE_TTL; 0 disables the cache): a token
 * request naming a resource costs no statement once it is cached. Changes drop the entry here
 * and, by NOTIFY, on every other instance; unknown identifiers are cached too, so a flood of
 * made-up resources costs one statement each at most once per TTL (the map is bounded).
 */
export class ResourceCache {
  private readonly entries = new Map<string, { record: ResourceRecord | null; expires: number }>();
  private readonly maxEntries = 10_000;

  constructor(
    private readonly sql: Sql,
    private readonly ttlSeconds: number,
  ) {}

  /** The fresh cached answer without I/O: a record, null (known to be unregistered), or undefined (not cached). */
  cached(identifier: string): ResourceRecord | null | undefined {
    const hit = this.entries.get(identifier);
    return hit && hit.expires > Date.now() ? hit.record : undefined;
  }

  async get(identifier: string): Promise<ResourceRecord | null> {
    const hit = this.cached(identifier);
    if (hit !== undefined) return hit;
    const now = Date.now();
    const record = await loadResource(this.sql, identifier);
    if (this.ttlSeconds > 0) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      this.entries.set(identifier, { record, expires: now + this.ttlSeconds * 1000 });
    }
    return record;
  }

  invalidate(identifier?: string): void {
    if (identifier === undefined) this.entries.clear();
    else this.entries.delete(identifier);
  }
}

async function loadResource(sql: Sql, identifier: string): Promise<ResourceRecord | null> {
  const rows = await sql.query<{
    id: string;
    identifier: string;
    name: string;
    scopes: string[];
    access_token_format: AccessTokenFormat;
    access_token_ttl: number | null;
  }>(
    'select id, identifier, name, scopes, access_token_format, access_token_ttl from resources where identifier = $1',
    [identifier],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    identifier: r.identifier,
    name: r.name,
    scopes: r.scopes,
    accessTokenFormat: r.access_token_format,
    accessTokenTtl: r.access_token_ttl,
  };
}

/** Drops the cached record here and on every other instance (after the change committed). */
async function resourceChanged(ctx: Ctx, identifiers: readonly string[]): Promise<void> {
  for (const identifier of identifiers) {
    if (isServerRuntime(ctx.runtime)) ctx.runtime.resources.invalidate(identifier);
    await ctx.sql.execute('select pg_notify($1, $2)', [RESOURCE_CHANNEL, identifier]);
  }
}

export interface ResourceInput {
  identifier: string;
  name: string;
  scopes?: string[];
  accessTokenFormat?: AccessTokenFormat;
  accessTokenTtl?: number | null;
}

/** Every rule a resource's fields obey, reported at once (the form marks each field). */
function checkFields(ctx: Ctx, input: Partial<ResourceInput>): Partial<ResourceInput> {
  const issues = new IssueCollector();
  const out: Partial<ResourceInput> = {};
  if (input.identifier !== undefined) {
    const identifier = input.identifier.trim();
    const problem = resourceUriProblem(identifier);
    if (problem) issues.add('identifier', `The identifier ${problem} (RFC 8707 §2).`);
    out.identifier = identifier;
  }
  if (input.name !== undefined) {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200) issues.add('name', 'The name must be 1 to 200 characters.');
    out.name = name;
  }
  if (input.scopes !== undefined) {
    const scopes = [...new Set(input.scopes.map((s) => s.trim()).filter(Boolean))];
    const unknown = scopes.filter((s) => !Object.hasOwn(ctx.config.scopes, s));
    if (unknown.length) issues.add('scopes', `Unknown scope(s): ${unknown.slice(0, 5).join(', ')}.`);
    out.scopes = scopes;
  }
  if (input.accessTokenFormat !== undefined) {
    if (input.accessTokenFormat !== 'opaque' && input.accessTokenFormat !== 'jwt')
      issues.add('accessTokenFormat', 'The token format is opaque or jwt.');
    out.accessTokenFormat = input.accessTokenFormat;
  }
  if (input.accessTokenTtl !== undefined) {
    const ttl = input.accessTokenTtl;
    if (ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_RESOURCE_TTL))
      issues.add(
        'accessTokenTtl',
        `The lifetime is 1 to ${MAX_RESOURCE_TTL} seconds, or empty for the default.`,
      );
    out.accessTokenTtl = ttl;
  }
  issues.throwIfAny();
  return out;
}

/** Every registered resource, by identifier (admins and the CLI). */
export async function listResources(ctx: Ctx): Promise<Resource[]> {
  requireAdmin(ctx);
  return ctx.em.find(Resource, {}, { orderBy: { identifier: 'asc' } });
}

/** One resource by id (admins and the CLI). */
export async function getResource(ctx: Ctx, id: string): Promise<Resource> {
  requireAdmin(ctx);
  const found = isUuid(id) ? await ctx.em.findOne(Resource, { id }) : null;
  if (!found) throw new NotFoundError('Resource not found.');
  return found;
}

function conflict(identifier: string | undefined): ConflictError {
  return new ConflictError(`A resource with identifier "${identifier ?? ''}" already exists.`);
}

export async function createResource(ctx: Ctx, input: ResourceInput): Promise<Resource> {
  requireAdmin(ctx);
  const fields = checkFields(ctx, {
    scopes: [],
    accessTokenFormat: 'opaque',
    accessTokenTtl: null,
    ...input,
  });
  try {
    const created = await ctx.transaction(async (tx) => {
      const resource = tx.em.create(Resource, {
        identifier: fields.identifier!,
        name: fields.name!,
        scopes: fields.scopes ?? [],
        accessTokenFormat: fields.accessTokenFormat ?? 'opaque',
        accessTokenTtl: fields.accessTokenTtl ?? null,
      });
      await tx.em.persistAndFlush(resource);
      await recordAudit(
        ctx,
        'resource.create',
        { type: 'resource', id: resource.id },
        { identifier: resource.identifier },
        tx.em,
      );
      return resource;
    });
    // A cached "unknown" for this identifier must go.
    await resourceChanged(ctx, [created.identifier]);
    return created;
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(fields.identifier);
    throw err;
  }
}

export async function updateResource(ctx: Ctx, id: string, input: Partial<ResourceInput>): Promise<Resource> {
  const resource = await getResource(ctx, id);
  const fields = checkFields(ctx, input);
  const before = resource.identifier;
  try {
    await ctx.transaction(async (tx) => {
      tx.em.assign(resource, { ...fields, updatedAt: new Date() });
      await tx.em.flush();
      await recordAudit(
        ctx,
        'resource.update',
        { type: 'resource', id },
        { fields: Object.keys(fields) },
        tx.em,
      );
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(fields.identifier);
    throw err;
  }
  await resourceChanged(ctx, before === resource.identifier ? [before] : [before, resource.identifier]);
  return resource;
}

/**
 * Deletes a resource. Tokens already issued for it keep their audience until they expire (the
 * resource server decides whether it still answers them).
 */
export async function deleteResource(ctx: Ctx, id: string): Promise<boolean> {
  const resource = await getResource(ctx, id);
  const identifier = resource.identifier;
  await ctx.transaction(async (tx) => {
    await tx.em.removeAndFlush(resource);
    await recordAudit(ctx, 'resource.delete', { type: 'resource', id }, { identifier }, tx.em);
  });
  await resourceChanged(ctx, [identifier]);
  return true;
}
