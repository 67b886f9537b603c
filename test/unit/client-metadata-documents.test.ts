import { describe, expect, it } from 'vitest';
import { DEFAULT_SCOPES } from '../../src/config/scopes.js';
import {
  ClientMetadataDocumentError,
  documentClientFields,
  isClientIdUrl,
  validateClientMetadataDocument,
} from '../../src/services/client-metadata-documents.js';

/** draft-ietf-oauth-client-id-metadata-document: what a fetched document must be to name a client. */

const ID = 'https://app.example.com/oauth/client.json';
const good = {
  client_id: ID,
  client_name: 'Example Assistant',
  redirect_uris: ['https://app.example.com/callback', 'http://127.0.0.1/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
  logo_uri: 'https://app.example.com/logo.png',
  client_uri: 'https://app.example.com/',
  scope: 'openid profile read',
};

function refusal(doc: unknown, clientId = ID): string {
  try {
    validateClientMetadataDocument(clientId, doc, DEFAULT_SCOPES);
  } catch (err) {
    expect(err).toBeInstanceOf(ClientMetadataDocumentError);
    expect((err as ClientMetadataDocumentError).reason).toBe('invalid_document');
    return (err as Error).message;
  }
  throw new Error('expected the document to be refused');
}

describe('client identifier URLs', () => {
  it('CIMD §3: a client id URL is https with a path; dot segments, fragments, credentials and plain http are not', () => {
    expect(isClientIdUrl(ID)).toBe(true);
    expect(isClientIdUrl('https://app.example.com:8443/client?v=1')).toBe(true);
    for (const bad of [
      'my-client-id',
      'http://app.example.com/client.json',
      'https://app.example.com',
      'https://app.example.com/',
      'https://app.example.com/a/../client.json',
      'https://app.example.com/./client.json',
      'https://app.example.com/a/%2e%2e/client.json',
      'https://app.example.com/client.json#frag',
      'https://user:pw@app.example.com/client.json',
      'https://user@app.example.com/client.json',
      'HTTPS://APP.example.com/client.json', // not as the parser writes it: no string comparison
      `https://app.example.com/${'a'.repeat(2100)}`,
    ]) {
      expect(isClientIdUrl(bad), bad).toBe(false);
    }
  });
});

describe('client metadata documents', () => {
  it('CIMD §4: a valid document becomes a public client bound to its redirect URIs, named by its host', () => {
    const doc = validateClientMetadataDocument(ID, good, DEFAULT_SCOPES);
    expect(doc).toEqual({
      clientId: ID,
      host: 'app.example.com',
      clientName: 'Example Assistant',
      clientNameAsserted: true,
      logoUri: 'https://app.example.com/logo.png',
      clientUri: 'https://app.example.com/',
      redirectUris: ['https://app.example.com/callback', 'http://127.0.0.1/callback'],
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'read'],
    });
    expect(documentClientFields(doc)).toEqual({
      clientId: ID,
      name: 'Example Assistant',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: good.redirect_uris,
      scopes: ['openid', 'profile', 'read'],
      logoUri: good.logo_uri,
      clientUri: good.client_uri,
    });
  });

  it('CIMD §4: the defaults — no name means the host is shown (and not as asserted), grant type authorization_code, every non-privileged scope', () => {
    const doc = validateClientMetadataDocument(
      ID,
      { client_id: ID, redirect_uris: ['https://app.example.com/cb'] },
      DEFAULT_SCOPES,
    );
    expect(doc.clientName).toBe('app.example.com');
    expect(doc.clientNameAsserted).toBe(false);
    expect(doc.grantTypes).toEqual(['authorization_code']);
    expect(doc.scopes).toEqual(['read', 'write', 'openid', 'profile', 'email']);
    expect(doc.logoUri).toBeNull();
  });

  it('CIMD §4.1: client_id must equal the URL by simple string comparison (no trailing slash, case or query variance)', () => {
    for (const other of [
      `${ID}/`,
      ID.toUpperCase(),
      `${ID}?x=1`,
      'https://evil.example/oauth/client.json',
      undefined,
      42,
    ]) {
      expect(refusal({ ...good, client_id: other })).toMatch(/client_id does not equal/);
    }
  });

  it('CIMD §4: no shared secret — client_secret, client_secret_expires_at and secret-based auth methods are refused', () => {
    expect(refusal({ ...good, client_secret: 's3cret' })).toMatch(/must not contain a client secret/);
    expect(refusal({ ...good, client_secret_expires_at: 0 })).toMatch(/must not contain a client secret/);
    for (const method of [
      'client_secret_basic',
      'client_secret_post',
      'client_secret_jwt',
      'private_key_jwt',
    ]) {
      expect(refusal({ ...good, token_endpoint_auth_method: method })).toMatch(/must be "none"/);
    }
  });

  it('RFC 6749 §3.1.2 / OAuth 2.1 §2.3.1: redirect URIs follow the rules of every application (missing, empty, not https, javascript:, fragment)', () => {
    const { redirect_uris: _dropped, ...noRedirects } = good;
    expect(refusal(noRedirects)).toMatch(/redirect_uris must be an array of strings/);
    expect(refusal({ ...good, redirect_uris: [] })).toMatch(/at least one URI/);
    expect(refusal({ ...good, redirect_uris: ['http://app.example.com/cb'] })).toMatch(/must use https/);
    expect(refusal({ ...good, redirect_uris: ['javascript:alert(1)'] })).toMatch(/not allowed/);
    expect(refusal({ ...good, redirect_uris: ['https://app.example.com/cb#x'] })).toMatch(/fragment/);
    expect(refusal({ ...good, redirect_uris: 'https://app.example.com/cb' })).toMatch(/array of strings/);
    expect(
      refusal({
        ...good,
        redirect_uris: Array.from({ length: 21 }, (_, i) => `https://app.example.com/${i}`),
      }),
    ).toMatch(/At most 20/);
  });

  it('Server policy: a document may ask only for authorization_code (+ refresh_token) and response type code', () => {
    expect(refusal({ ...good, grant_types: ['client_credentials'] })).toMatch(/grant_types must include/);
    expect(refusal({ ...good, grant_types: ['authorization_code', 'password'] })).toMatch(/grant_types/);
    expect(refusal({ ...good, grant_types: ['refresh_token'] })).toMatch(/grant_types/);
    expect(refusal({ ...good, response_types: ['code', 'token'] })).toMatch(/response_types/);
  });

  it('Server policy: scopes are bounded by the non-privileged scopes — graphql, introspection and unknown scopes are dropped, none left is refused', () => {
    const doc = validateClientMetadataDocument(
      ID,
      { ...good, scope: 'read graphql introspection bogus read' },
      DEFAULT_SCOPES,
    );
    expect(doc.scopes).toEqual(['read']);
    expect(refusal({ ...good, scope: 'graphql introspection' })).toMatch(/scope names none/);
    expect(refusal({ ...good, scope: ['read'] })).toMatch(/scope must be a string/);
  });

  it('Unverified display: logo_uri and client_uri must be https without credentials; a client_name with control characters is refused', () => {
    expect(refusal({ ...good, logo_uri: 'http://app.example.com/logo.png' })).toMatch(
      /logo_uri must be an https URL/,
    );
    expect(refusal({ ...good, logo_uri: 'javascript:alert(1)' })).toMatch(/logo_uri/);
    expect(refusal({ ...good, client_uri: 'https://u:p@app.example.com/' })).toMatch(/client_uri/);
    expect(refusal({ ...good, client_name: 'Evil\u0000Name' })).toMatch(/control characters/);
    expect(refusal({ ...good, client_name: 'x'.repeat(201) })).toMatch(/at most 200/);
  });

  it('Hostile input: a document that is not an object is refused, and every broken rule is reported at once', () => {
    for (const doc of [null, [], 'client', 42]) expect(refusal(doc)).toMatch(/not a JSON object/);
    const message = refusal({ ...good, redirect_uris: [], grant_types: ['implicit'], logo_uri: 'ftp://x/' });
    expect(message).toMatch(/redirect_uris/);
    expect(message).toMatch(/grant_types/);
    expect(message).toMatch(/logo_uri/);
  });
});
