import type { Sql } from '../db/sql.js';
import {
  type ClientRecord,
  type DocumentClientFields,
  MAX_CLIENT_ID_LENGTH,
  upsertDocumentClient,
} from '../db/tables/applications.js';
import type { FetchJsonOptions } from '../http/outbound.js';
import { OutboundError } from '../http/outbound.js';
import { type GrantType, PRIVILEGED_SCOPES } from '../vocabulary.js';
import { BusyError, DomainError, IssueCollector, ValidationError } from './errors.js';
import { countAttempt, limitAddress } from './limits.js';
import { checkHttpsUri, checkList, checkName, checkRedirectUri } from './validators.js';

/**
 * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): a client whose
 * `client_id` is an https URL publishes its metadata there. This module decides whether a
 * `client_id` is such a URL, fetches the document through the SSRF-safe outbound client, and
 * turns it into a validated description of a public client. It stores nothing.
 */

/** The draft's suggested bound (§4: "for example, 5 kilobytes"); real documents are far smaller. */
export const CLIENT_METADATA_DOCUMENT_MAX_BYTES = 5 * 1024;

/** What a document may ask for: a public client of the authorization code flow. */
const DOCUMENT_GRANT_TYPES: readonly GrantType[] = ['authorization_code', 'refresh_token'];

export type ClientMetadataDocumentReason =
  | 'invalid_client_id_url'
  | 'fetch_failed'
  | 'invalid_document'
  /** The requester's address caused too many document fetches (nothing was fetched). */
  | 'rate_limited';

/** Why a URL client id cannot be used; the message names the host at most, never an address. */
export class ClientMetadataDocumentError extends DomainError {
  override name = 'ClientMetadataDocumentError';
  /** Seconds until the requester may cause a fetch again (rate_limited only). */
  readonly retryAfter: number;

  constructor(
    readonly reason: ClientMetadataDocumentReason,
    message: string,
    options?: { cause?: unknown; retryAfter?: number },
  ) {
    super(message, { cause: options?.cause });
    this.retryAfter = options?.retryAfter ?? 0;
  }

  /**
   * A verdict about the document (remembered for a while, for every requester), not about who
   * asked: a rate-limited requester must not make the client unusable for everyone else.
   */
  get aboutDocument(): boolean {
    return this.reason !== 'rate_limited';
  }
}

/** The window of CLIENT_ID_METADATA_DOCUMENTS_MAX_PER_HOUR. */
const FETCH_WINDOW_SECONDS = 3600;

/**
 * The per-address bound on document fetches (CLIENT_ID_METADATA_DOCUMENTS_MAX_PER_HOUR): counted
 * in one atomic statement before the fetch, so a flood of distinct client_id URLs from one
 * address (IPv6: one /64) can neither make Latchkey a fetch amplifier nor fill the applications
 * table. Only fetches that reach the network are counted (a cached document costs nothing).
 */
export function documentFetchAdmission(
  sql: Sql,
  requesterIp: string | undefined,
  maxPerHour: number,
): () => Promise<void> {
  return async () => {
    const state = await countAttempt(
      sql,
      [{ key: `cimd:ip:${limitAddress(requesterIp)}`, max: maxPerHour }],
      FETCH_WINDOW_SECONDS,
    );
    if (state.blocked) {
      throw new ClientMetadataDocumentError(
        'rate_limited',
        `Too many client metadata documents were requested from your network; try again in ${state.retryAfter} seconds.`,
        { retryAfter: state.retryAfter },
      );
    }
  };
}

/** A validated document: what the authorization server will hold the client to. */
export interface ClientMetadataDocument {
  clientId: string;
  /** The host the user is trusting (shown prominently on the consent page). */
  host: string;
  /** Self-asserted, shown as unverified; the host when the document gives none. */
  clientName: string;
  clientNameAsserted: boolean;
  logoUri: string | null;
  clientUri: string | null;
  redirectUris: string[];
  grantTypes: GrantType[];
  scopes: string[];
}

/** Fetches JSON safely; the server runtime's OutboundClient is one. */
export interface JsonFetcher {
  fetchJson(url: string, opts?: FetchJsonOptions): Promise<unknown>;
}

/**
 * Is this `client_id` a client identifier URL (§3)? https, a path, no dot segments, no fragment,
 * no credentials. A query is allowed (SHOULD NOT, not MUST NOT). Plain client ids (no scheme)
 * answer false, so callers can route by it cheaply.
 */
export function isClientIdUrl(clientId: string): boolean {
  return clientIdUrlProblem(clientId) === null;
}

function clientIdUrlProblem(clientId: string): string | null {
  if (clientId.length > MAX_CLIENT_ID_LENGTH) return 'is too long';
  if (!clientId.startsWith('https://')) return 'must start with https://';
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return 'is not a valid URL';
  }
  if (!url.hostname) return 'has no host';
  if (url.username || url.password || /^https:\/\/[^/?#]*@/i.test(clientId))
    return 'must not contain credentials';
  if (clientId.includes('#')) return 'must not contain a fragment';
  const pathWritten = clientId
    .slice('https://'.length)
    .replace(/^[^/?#]*/, '')
    .replace(/[?#].*$/, '');
  if (pathWritten === '' || pathWritten === '/') return 'must contain a path';
  // Dot segments, also percent-encoded, as written: the URL parser would quietly remove them.
  if (pathWritten.split('/').some((seg) => /^(\.|%2e){1,2}$/i.test(seg))) {
    return 'must not contain . or .. path segments';
  }
  // As written, so the document's client_id compares by simple string comparison (§4).
  if (url.href !== clientId) return 'must be written in its normalised form';
  return null;
}

/**
 * The document at `clientId`, fetched and validated. Every failure is a
 * ClientMetadataDocumentError whose message may be shown to the user of the client.
 */
export async function resolveClientMetadataDocument(
  fetcher: JsonFetcher,
  clientId: string,
  knownScopes: Readonly<Record<string, string>>,
  beforeFetch?: () => Promise<void>,
): Promise<ClientMetadataDocument> {
  const problem = clientIdUrlProblem(clientId);
  if (problem)
    throw new ClientMetadataDocumentError('invalid_client_id_url', `The client_id URL ${problem}.`);
  let document: unknown;
  try {
    document = await fetcher.fetchJson(clientId, {
      maxBytes: CLIENT_METADATA_DOCUMENT_MAX_BYTES,
      maxRedirects: 0,
      beforeFetch,
    });
  } catch (err) {
    // Latchkey's own load, not the document's fault: a 503 page, and nothing remembered.
    if (err instanceof OutboundError && err.reason === 'busy') throw new BusyError(1);
    if (err instanceof OutboundError) {
      throw new ClientMetadataDocumentError(
        'fetch_failed',
        `The client metadata document could not be fetched. ${err.message}`,
        { cause: err },
      );
    }
    throw err;
  }
  return validateClientMetadataDocument(clientId, document, knownScopes);
}

/**
 * The rules of §4 and of this server for a fetched document: `client_id` equal to the URL by
 * simple string comparison; no shared secret (`client_secret*`, `client_secret_*` auth methods)
 * — the client is public, `token_endpoint_auth_method` `none`; redirect URIs by the same rules
 * as every application; grant types within authorization_code + refresh_token; scopes within the
 * server's non-privileged scopes.
 */
export function validateClientMetadataDocument(
  clientId: string,
  document: unknown,
  knownScopes: Readonly<Record<string, string>>,
): ClientMetadataDocument {
  const fail = (message: string) => new ClientMetadataDocumentError('invalid_document', message);
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw fail('The client metadata document is not a JSON object.');
  }
  const doc = document as Record<string, unknown>;
  if (doc.client_id !== clientId) {
    throw fail('The client metadata document\u2019s client_id does not equal the URL it was fetched from.');
  }
  if ('client_secret' in doc || 'client_secret_expires_at' in doc) {
    throw fail('A client metadata document must not contain a client secret.');
  }
  const method = doc.token_endpoint_auth_method ?? 'none';
  if (method !== 'none') {
    throw fail(
      'token_endpoint_auth_method must be "none": only public clients are accepted from metadata documents.',
    );
  }
  const issues = new IssueCollector();
  const redirectUris = issues.check(() => {
    const list = stringList(doc.redirect_uris, 'redirect_uris');
    if (list.length === 0)
      throw new ValidationError('redirect_uris', 'redirect_uris must list at least one URI.');
    return checkList(list, 'redirectUris', (v) => checkRedirectUri(v, 'redirect_uris'), 'redirect URIs');
  }, []);
  const grantTypes = issues.check(() => {
    const list =
      doc.grant_types === undefined ? ['authorization_code'] : stringList(doc.grant_types, 'grant_types');
    const unsupported = list.filter((g) => !DOCUMENT_GRANT_TYPES.includes(g as GrantType));
    if (unsupported.length > 0 || !list.includes('authorization_code')) {
      throw new ValidationError(
        'grant_types',
        'grant_types must include authorization_code and may add refresh_token, nothing else.',
      );
    }
    return [...new Set(list)] as GrantType[];
  }, []);
  issues.check(() => {
    const list =
      doc.response_types === undefined ? ['code'] : stringList(doc.response_types, 'response_types');
    if (list.some((r) => r !== 'code')) {
      throw new ValidationError('response_types', 'response_types may only be ["code"].');
    }
  }, undefined);
  const clientName = issues.check(
    () =>
      doc.client_name === undefined
        ? null
        : checkName(stringField(doc.client_name, 'client_name'), 'client_name'),
    null,
  );
  const logoUri = issues.check(() => optionalHttpsUri(doc.logo_uri, 'logo_uri'), null);
  const clientUri = issues.check(() => optionalHttpsUri(doc.client_uri, 'client_uri'), null);
  const scopes = issues.check(() => boundedScopes(doc.scope, knownScopes), []);
  if (issues.issues.length > 0) {
    throw fail(`The client metadata document is invalid: ${issues.issues.map((i) => i.message).join(' ')}`);
  }
  const host = new URL(clientId).host;
  return {
    clientId,
    host,
    clientName: clientName ?? host,
    clientNameAsserted: clientName !== null,
    logoUri,
    clientUri,
    redirectUris,
    grantTypes,
    scopes,
  };
}

/** What the document decides about its applications row (client type `none`/public is the table's rule). */
export function documentClientFields(doc: ClientMetadataDocument): DocumentClientFields {
  return {
    clientId: doc.clientId,
    name: doc.clientName,
    grantTypes: doc.grantTypes,
    redirectUris: doc.redirectUris,
    scopes: doc.scopes,
    logoUri: doc.logoUri,
    clientUri: doc.clientUri,
  };
}

/** What the server's settings decide about document clients. */
export interface DocumentPolicy {
  knownScopes: Readonly<Record<string, string>>;
  /** CLIENT_ID_METADATA_DOCUMENTS_MAX_PER_HOUR. */
  maxFetchesPerHour: number;
}

/**
 * The client an authorization request names by its client identifier URL: the document fetched
 * (a fetch counted against the requester's address first) and validated, then mirrored into its
 * applications row (grants and tokens need its id). Nothing is written unless the document is
 * valid. Throws ClientMetadataDocumentError when the document cannot be used.
 */
export async function resolveDocumentClient(
  sql: Sql,
  fetcher: JsonFetcher,
  clientId: string,
  policy: DocumentPolicy,
  requesterIp: string | undefined,
): Promise<ClientRecord | null> {
  const admit = documentFetchAdmission(sql, requesterIp, policy.maxFetchesPerHour);
  const doc = await resolveClientMetadataDocument(fetcher, clientId, policy.knownScopes, admit);
  return upsertDocumentClient(sql, documentClientFields(doc));
}

/**
 * RFC 7591 `scope` (space-separated) bounded by the server: privileged and unknown scopes are
 * dropped, as an administrator never granted them; absent, every non-privileged scope.
 */
function boundedScopes(value: unknown, knownScopes: Readonly<Record<string, string>>): string[] {
  const allowed = Object.keys(knownScopes).filter((s) => !PRIVILEGED_SCOPES.includes(s));
  if (value === undefined) return allowed;
  const asked = stringField(value, 'scope').split(' ').filter(Boolean);
  const granted = [...new Set(asked.filter((s) => allowed.includes(s)))];
  if (granted.length === 0) {
    throw new ValidationError('scope', 'scope names none of the scopes this server grants to such clients.');
  }
  return granted;
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new ValidationError(field, `${field} must be an array of strings.`);
  }
  return value;
}

function stringField(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new ValidationError(field, `${field} must be a string.`);
  return value;
}

function optionalHttpsUri(value: unknown, field: string): string | null {
  return value === undefined ? null : checkHttpsUri(stringField(value, field), field);
}
