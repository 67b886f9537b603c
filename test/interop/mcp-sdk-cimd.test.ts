import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/http/outbound.js';
import { createResource } from '../../src/services/resources.js';
import { createUser } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import {
  type McpTestServer,
  recordingFetch,
  startMcpServer,
  TestOAuthClientProvider,
} from '../helpers/mcp.js';
import { makeClient, postForm } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { selfSignedCertificate } from '../helpers/tls.js';

/**
 * The MCP TypeScript SDK with a client ID metadata document (its provider's clientMetadataUrl;
 * draft-ietf-oauth-client-id-metadata-document, MCP authorization 2025-11-25): the document is
 * served by the test over https with a self-signed certificate for cimd.test (a test resolver
 * maps the name to 127.0.0.1, OUTBOUND_ALLOW_PRIVATE_NETWORK lets Latchkey reach it). The SDK
 * must use the URL as its client_id instead of registering.
 */

const REDIRECT = 'http://127.0.0.1/mcp-client/callback';

let docs: https.Server;
let documentUrl: string;
let documentFetches = 0;
let latchkey: TestServer;
let mcp: McpTestServer;
let agent: Agent;
const sent: { method: string; url: URL; body: URLSearchParams | null }[] = [];
const resolve: Resolver = async (name) => (name === 'cimd.test' ? [{ address: '127.0.0.1', family: 4 }] : []);

beforeAll(async () => {
  const { key, cert } = selfSignedCertificate(['cimd.test']);
  docs = https.createServer({ key, cert }, (req, res) => {
    if (req.url !== '/mcp-client.json') return void res.writeHead(404).end();
    documentFetches++;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
    res.end(
      JSON.stringify({
        client_id: documentUrl,
        client_name: 'MCP SDK test client',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      }),
    );
  });
  await new Promise<void>((r) => docs.listen(0, '127.0.0.1', r));
  documentUrl = `https://cimd.test:${(docs.address() as AddressInfo).port}/mcp-client.json`;
  latchkey = await startTestServer({
    // Registration stays off: the SDK must not need it when documents are supported.
    env: { CLIENT_ID_METADATA_DOCUMENTS: 'true', OUTBOUND_ALLOW_PRIVATE_NETWORK: 'true' },
    outbound: { resolve, ca: cert },
  });
  const cli = latchkey.cli();
  const introspector = await makeClient(latchkey, {
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scopes: ['read', 'introspection'],
  });
  mcp = await startMcpServer(latchkey, introspector, 'read');
  await createResource(cli, { identifier: mcp.resource, name: 'Test MCP server', scopes: ['read'] });
  await createUser(cli, { username: 'cyd', password: 'cyd-password' });
  agent = new Agent(latchkey.url);
  await agent.login('cyd', 'cyd-password');
});
afterAll(async () => {
  await mcp?.close();
  await latchkey?.stop();
  docs?.closeAllConnections();
  await new Promise((r) => docs?.close(r));
});

const newTransport = (provider: TestOAuthClientProvider) =>
  new StreamableHTTPClientTransport(new URL(mcp.url), {
    authProvider: provider,
    fetch: recordingFetch(sent),
  });

describe('MCP TypeScript SDK with a client ID metadata document', () => {
  it('CIMD §3 / RFC 8414: the SDK uses its document URL as client_id (no registration), authorizes with PKCE + resource, calls, refreshes, calls again', async () => {
    const provider = new TestOAuthClientProvider(agent, REDIRECT, { clientMetadataUrl: documentUrl });
    const first = newTransport(provider);
    const failed = await new Client({ name: 'test', version: '1.0.0' }).connect(first).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(UnauthorizedError);
    // RFC 7591 not used: metadata says documents are supported, so the SDK never registers.
    expect(sent.some((r) => r.url.pathname === '/o/register/')).toBe(false);
    expect(provider.clientInformation()?.client_id).toBe(documentUrl);
    const [authUrl] = provider.authorizationUrls;
    expect(authUrl.searchParams.get('client_id')).toBe(documentUrl);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('resource')).toBe(mcp.resource);
    // CIMD §4: Latchkey fetched the document to learn the redirect URIs.
    expect(documentFetches).toBeGreaterThan(0);

    await first.finishAuth(String(provider.code));
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(newTransport(provider));
    expect((await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).content).toEqual([
      { type: 'text', text: '2' },
    ]);
    expect(mcp.introspections.at(-1)).toMatchObject({
      active: true,
      aud: mcp.resource,
      client_id: documentUrl,
    });

    // RFC 7009 then RFC 6749 §6 / RFC 8707 §2: after revocation the SDK refreshes with resource.
    const firstTokens = provider.tokens();
    const revoked = await postForm(
      latchkey,
      '/o/revoke_token/',
      { token: String(firstTokens?.access_token) },
      { clientId: documentUrl, clientSecret: null },
    );
    expect(revoked.status).toBe(200);
    expect((await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).content).toEqual([
      { type: 'text', text: '42' },
    ]);
    const refresh = sent.filter(
      (r) => r.url.pathname === '/o/token/' && r.body?.get('grant_type') === 'refresh_token',
    );
    expect(refresh).toHaveLength(1);
    expect(refresh[0].body?.get('client_id')).toBe(documentUrl);
    expect(refresh[0].body?.getAll('resource')).toEqual([mcp.resource]);
    expect(provider.tokens()?.access_token).not.toBe(firstTokens?.access_token);
    expect(mcp.introspections.at(-1)).toMatchObject({
      active: true,
      aud: mcp.resource,
      client_id: documentUrl,
    });
    expect(provider.authorizationUrls).toHaveLength(1);
    await client.close();
  });
});
