import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/http/outbound.js';
import { createUser } from '../../src/services/users.js';
import { Agent, hiddenInputs } from '../helpers/http.js';
import { authorizePath, pkce, postForm } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { selfSignedCertificate } from '../helpers/tls.js';

/**
 * Client ID metadata documents wired into the authorization and token endpoints
 * (draft-ietf-oauth-client-id-metadata-document): a real Latchkey with CIMD on fetches documents
 * over https from a local server with a self-signed certificate for cimd.test (a test resolver
 * maps the name to 127.0.0.1; OUTBOUND_ALLOW_PRIVATE_NETWORK lets the client reach it).
 */

let docs: https.Server;
let docPort: number;
let server: TestServer;
let off: TestServer;
let fetches = 0;
const documents = new Map<string, () => unknown>();
const resolve: Resolver = async (name) => (name === 'cimd.test' ? [{ address: '127.0.0.1', family: 4 }] : []);
const REDIRECT = 'http://127.0.0.1:9/cb';
const id = (path: string) => `https://cimd.test:${docPort}${path}`;

beforeAll(async () => {
  const { key, cert } = selfSignedCertificate(['cimd.test']);
  docs = https.createServer({ key, cert }, (req, res) => {
    fetches++;
    const doc = documents.get(req.url ?? '');
    if (!doc) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
    res.end(JSON.stringify(doc()));
  });
  await new Promise<void>((r) => docs.listen(0, '127.0.0.1', r));
  docPort = (docs.address() as AddressInfo).port;
  const env = { OUTBOUND_ALLOW_PRIVATE_NETWORK: 'true', CLIENT_CACHE_TTL: '0' };
  server = await startTestServer({
    env: { ...env, CLIENT_ID_METADATA_DOCUMENTS: 'true' },
    outbound: { resolve, ca: cert },
  });
  off = await startTestServer({ env, outbound: { resolve, ca: cert } });
  for (const s of [server, off]) await createUser(s.cli(), { username: 'alice', password: 'alice-password' });
});

afterAll(async () => {
  await Promise.all([server?.stop(), off?.stop()]);
  docs.closeAllConnections();
  await new Promise((r) => docs.close(r));
});

async function alice(s: TestServer): Promise<Agent> {
  const agent = new Agent(s.url);
  await agent.login('alice', 'alice-password');
  return agent;
}

function request(clientId: string, challenge: string, extra: Record<string, string> = {}) {
  return authorizePath({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'read',
    state: 's1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
}

describe('client ID metadata documents at the endpoints', () => {
  it('CIMD §5 / RFC 8414: metadata advertises client_id_metadata_document_supported only when the setting is on', async () => {
    const on = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json();
    const none = await (await fetch(`${off.url}/.well-known/oauth-authorization-server`)).json();
    expect(on.client_id_metadata_document_supported).toBe(true);
    expect(none.client_id_metadata_document_supported).toBeUndefined();
  });

  it('CIMD §4, RFC 6749 §4.1, RFC 7636: a URL client id completes a code flow as a public client; the consent page names the host and marks the self-asserted name and logo unverified', async () => {
    const clientId = id('/agent.json');
    documents.set('/agent.json', () => ({
      client_id: clientId,
      client_name: 'Friendly Agent',
      logo_uri: `https://cimd.test:${docPort}/logo.png`,
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
    }));
    const agent = await alice(server);
    const { verifier, challenge } = pkce();
    const page = await agent.get(request(clientId, challenge));
    expect(page.status).toBe(200);
    expect(page.text).toContain(`Authorize <span class="document-host">cimd.test:${docPort}</span>`);
    expect(page.text).toMatch(
      /It calls itself <strong>Friendly Agent<\/strong> <span class="tag">unverified<\/span>/,
    );
    expect(page.headers.get('content-security-policy')).toContain(
      `img-src 'self' https://cimd.test:${docPort}`,
    );
    const res = await agent.post('/o/authorize/', {
      ...hiddenInputs(page.text, '/o/authorize/'),
      allow: 'Allow',
    });
    expect(res.status).toBe(302);
    const code = new URL(res.location!).searchParams.get('code')!;
    const token = await postForm(server, '/o/token/', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      client_id: clientId,
    });
    expect(token.status).toBe(200);
    expect(token.json.refresh_token).toBeTypeOf('string');
    const rows = await server.runtime.db.sql.query<Record<string, unknown>>(
      'select client_type, token_endpoint_auth_method, skip_authorization, owner_id, metadata_document from applications where client_id = $1',
      [clientId],
    );
    expect(rows).toEqual([
      {
        client_type: 'public',
        token_endpoint_auth_method: 'none',
        skip_authorization: false,
        owner_id: null,
        metadata_document: true,
      },
    ]);
  });

  it('CIMD §4 / RFC 6749 §4.1.2.1: a redirect_uri the document does not list, or a document whose client_id differs, is an error page, never a redirect', async () => {
    const clientId = id('/liar.json');
    documents.set('/liar.json', () => ({ client_id: id('/other.json'), redirect_uris: [REDIRECT] }));
    const agent = await alice(server);
    const liar = await agent.get(request(clientId, pkce().challenge));
    expect(liar.status).toBe(400);
    expect(liar.location).toBeUndefined();
    expect(liar.text).toContain('client_id does not equal the URL');

    const narrow = id('/narrow.json');
    documents.set('/narrow.json', () => ({ client_id: narrow, redirect_uris: ['http://127.0.0.1:9/other'] }));
    const wrong = await agent.get(request(narrow, pkce().challenge));
    expect(wrong.status).toBe(400);
    expect(wrong.location).toBeUndefined();
    expect(wrong.text).toContain('Redirect URI not registered');
  });

  it('CIMD §4: an unreachable document is a readable page naming the host, not an address, and parallel requests for it share one fetch', async () => {
    const clientId = id('/missing.json');
    const agent = await alice(server);
    const before = fetches;
    const pages = await Promise.all(
      Array.from({ length: 8 }, () => agent.get(request(clientId, pkce().challenge))),
    );
    for (const p of pages) {
      expect(p.status).toBe(400);
      expect(p.location).toBeUndefined();
      expect(p.text).toContain('could not be fetched');
      expect(p.text).not.toContain('127.0.0.1:' + docPort);
    }
    expect(fetches - before).toBe(1);
  });

  it('CIMD §3: with CLIENT_ID_METADATA_DOCUMENTS off, a URL client id is an unknown application and nothing is fetched', async () => {
    const clientId = id('/agent-off.json');
    documents.set('/agent-off.json', () => ({ client_id: clientId, redirect_uris: [REDIRECT] }));
    const before = fetches;
    const page = await (await alice(off)).get(request(clientId, pkce().challenge));
    expect(page.status).toBe(400);
    expect(page.text).toContain('Unknown application');
    expect(fetches).toBe(before);
  });

  it('trust covers what the document says: an application defined by a document cannot be edited through the API (typed FORBIDDEN)', async () => {
    const clientId = id('/agent.json');
    const [row] = await server.runtime.db.sql.query<{ id: string }>(
      'select id from applications where client_id = $1',
      [clientId],
    );
    const { updateApplication } = await import('../../src/services/applications.js');
    await expect(updateApplication(server.cli(), row.id, { skipAuthorization: true })).rejects.toThrow(
      /defined by its client metadata document/,
    );
  });
});
