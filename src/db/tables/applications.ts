import type {
  AccessTokenFormat,
  ClientJwks,
  ClientType,
  GrantType,
  SigningAlg,
  TokenEndpointAuthMethod,
} from '../../entities/Application.js';
import { newId } from '../../entities/base.js';
import type { ApplicationProfile } from '../../vocabulary.js';
import type { Sql } from '../sql.js';
import { statement } from './statement.js';

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
  /** Null for dynamically registered applications and metadata-document clients. */
  ownerUsername: string | null;
  /** Defined by the client ID metadata document at `clientId`; its name and logo are self-asserted. */
  metadataDocument: boolean;
  logoUri: string | null;
  /** RFC 7523 keys of a `private_key_jwt` client: inline, or where to fetch them (one of the two). */
  jwks: ClientJwks | null;
  jwksUri: string | null;
  /** RFC 9126 §6: only pushed authorization requests are accepted for this client. */
  requirePar: boolean;
  /** RFC 9449: every token request must carry a DPoP proof. */
  requireDpop: boolean;
  profile: ApplicationProfile;
  rotateRefreshTokens: boolean;
  /** RFC 8693 policy: the resources a token exchange may target (empty: none). */
  tokenExchangeAudiences: string[];
  /** RFC 8693: an exchange without actor_token (impersonation) is allowed. */
  tokenExchangeImpersonation: boolean;
  /** RFC 8693 §2.2.1: an exchange may return a refresh token. */
  tokenExchangeRefreshTokens: boolean;
}

const CLIENT_COLUMNS = `a.id, a.client_id, a.name, a.client_type, a.client_secret_digest, a.token_endpoint_auth_method,
            a.grant_types, a.redirect_uris, a.post_logout_redirect_uris, a.allowed_origins, a.scopes,
            a.skip_authorization, a.access_token_format, a.id_token_signed_response_alg,
            a.metadata_document, a.logo_uri, a.jwks, a.jwks_uri, a.require_par, a.require_dpop, a.profile, a.rotate_refresh_tokens,
            a.token_exchange_audiences, a.token_exchange_impersonation, a.token_exchange_refresh_tokens, u.username as owner_username`;

/** The one statement that loads a client record (exported so tests can tell cache loads apart). */
export const LOAD_CLIENT = `select ${CLIENT_COLUMNS}
       from applications a left join users u on u.id = a.owner_id
      where a.client_id = $1`;

/** The longest client id stored: client identifier URLs of metadata documents. */
export const MAX_CLIENT_ID_LENGTH = 2000;

export async function loadClient(sql: Sql, clientId: string): Promise<ClientRecord | null> {
  if (clientId.length === 0 || clientId.length > MAX_CLIENT_ID_LENGTH) return null;
  const rows = await sql.query<ClientRow>(LOAD_CLIENT, [clientId]);
  return rows[0] ? clientRecord(rows[0]) : null;
}

/** What a client ID metadata document decides about its client (the rest are table defaults). */
export type DocumentClientFields = Pick<
  ClientRecord,
  'clientId' | 'name' | 'grantTypes' | 'redirectUris' | 'scopes' | 'logoUri'
> & { clientUri: string | null };

/**
 * Mirrors a fetched document into its applications row in one statement: inserted the first
 * time, brought up to date afterwards; parallel first authorizations meet in ON CONFLICT. The
 * WHERE keeps a document from ever taking over a row that is not a document's (a registered
 * client id is never an https URL, so that is belt and braces). Null then.
 */
const UPSERT_DOCUMENT_CLIENT = statement(
  ['id', 'client_id', 'name', 'grant_types', 'redirect_uris', 'scopes', 'client_uri', 'logo_uri'],
  `with up as (
     insert into applications as a
            (id, client_id, name, client_type, token_endpoint_auth_method, grant_types, redirect_uris,
             scopes, client_uri, logo_uri, metadata_document)
     values (:id::uuid, :client_id, :name, 'public', 'none', :grant_types::text[], :redirect_uris::text[],
             :scopes::text[], :client_uri, :logo_uri, true)
     on conflict (client_id) do update
        set name = excluded.name, grant_types = excluded.grant_types,
            redirect_uris = excluded.redirect_uris, scopes = excluded.scopes,
            client_uri = excluded.client_uri, logo_uri = excluded.logo_uri, updated_at = now()
      where a.metadata_document
     returning a.*)
   select ${CLIENT_COLUMNS.replace('u.username', 'null::text')} from up a`,
);

export async function upsertDocumentClient(
  sql: Sql,
  doc: DocumentClientFields,
): Promise<ClientRecord | null> {
  const rows = await sql.query<ClientRow>(
    UPSERT_DOCUMENT_CLIENT.text,
    UPSERT_DOCUMENT_CLIENT.values({
      id: newId(),
      client_id: doc.clientId,
      name: doc.name,
      grant_types: doc.grantTypes,
      redirect_uris: doc.redirectUris,
      scopes: doc.scopes,
      client_uri: doc.clientUri,
      logo_uri: doc.logoUri,
    }),
  );
  return rows[0] ? clientRecord(rows[0]) : null;
}

function clientRecord(row: ClientRow): ClientRecord {
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
    metadataDocument: row.metadata_document,
    logoUri: row.logo_uri,
    jwks: row.jwks,
    jwksUri: row.jwks_uri,
    requirePar: row.require_par,
    requireDpop: row.require_dpop,
    profile: row.profile,
    rotateRefreshTokens: row.rotate_refresh_tokens,
    tokenExchangeAudiences: row.token_exchange_audiences,
    tokenExchangeImpersonation: row.token_exchange_impersonation,
    tokenExchangeRefreshTokens: row.token_exchange_refresh_tokens,
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
  metadata_document: boolean;
  logo_uri: string | null;
  jwks: ClientJwks | null;
  jwks_uri: string | null;
  require_par: boolean;
  require_dpop: boolean;
  profile: ApplicationProfile;
  rotate_refresh_tokens: boolean;
  token_exchange_audiences: string[];
  token_exchange_impersonation: boolean;
  token_exchange_refresh_tokens: boolean;
}
