import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResource } from '../../src/services/resources.js';
import { createUser } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import {
  type McpTestServer,
  recordingFetch,
  startMcpServer,
  TestOAuthClientProvider,
} from '../helpers/mcp.js';
import { makeClient, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The official MCP TypeScript SDK (client side, its OAuth support unmodified) against Latchkey:
 * an MCP server protected by Latchkey tokens (introspection, audience = the MCP server), the
 * client discovering Latchkey from the 401, registering dynamically, authorizing with PKCE and
 * `resource`, calling a tool, refreshing and calling again (MCP authorization spec 2025-06-18).
 */

const OTHER = 'https://other-mcp.example.com/mcp';
const REDIRECT = 'http://127.0.0.1/mcp-client/callback';

let latchkey: TestServer;
let mcp: McpTestServer;
let introspector: TestClient;
let agent: Agent;
const sent: { method: string; url: URL; body: URLSearchParams | null }[] = [];

beforeAll(async () => {
  latchkey = await startTestServer({ env: { DYNAMIC_REGISTRATION: 'open' } });
  const cli = latchkey.cli();
  introspector = await makeClient(latchkey, {
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scopes: ['read', 'introspection'],
  });
  mcp = await startMcpServer(latchkey, introspector, 'read');
  await createResource(cli, { identifier: mcp.resource, name: 'Test MCP server', scopes: ['read'] });
  await createResource(cli, { identifier: OTHER, name: 'Another MCP server', scopes: ['read'] });
  await createUser(cli, { username: 'mira', password: 'mira-password' });
  agent = new Agent(latchkey.url);
  await agent.login('mira', 'mira-password');
});
afterAll(async () => {
  await mcp?.close();
  await latchkey?.stop();
});

const newTransport = (provider: TestOAuthClientProvider) =>
  new StreamableHTTPClientTransport(new URL(mcp.url), {
    authProvider: provider,
    fetch: recordingFetch(sent),
  });

const tokenRequests = () =>
  sent.filter((r) => r.method === 'POST' && r.url.pathname === '/o/token/' && r.body);

describe('MCP TypeScript SDK client against a Latchkey-protected MCP server', () => {
  it('discovers, registers, authorizes with PKCE + resource, calls a tool, refreshes, calls again', async () => {
    const provider = new TestOAuthClientProvider(agent, REDIRECT);

    // MCP authorization 2025-06-18 / RFC 9728 §5.1: the 401 challenge names the resource
    // metadata, which names Latchkey; the SDK then registers and sends the user to authorize.
    const first = newTransport(provider);
    const failed = await new Client({ name: 'test', version: '1.0.0' }).connect(first).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(UnauthorizedError);
    expect(sent.some((r) => r.url.href === mcp.resourceMetadataUrl)).toBe(true);
    // RFC 8414 §3: Latchkey's metadata, found from the authorization_servers entry.
    expect(
      sent.some(
        (r) => r.url.href === `${latchkey.runtime.config.issuer}/.well-known/oauth-authorization-server`,
      ),
    ).toBe(true);

    // RFC 7591 §3: registered dynamically, and Latchkey marks the application so.
    const info = provider.clientInformation();
    expect(info?.client_id).toBeTruthy();
    const rows = await latchkey
      .cli()
      .sql.query<{ dynamically_registered: boolean; client_type: string }>(
        'select dynamically_registered, client_type from applications where client_id = $1',
        [info?.client_id],
      );
    expect(rows).toEqual([{ dynamically_registered: true, client_type: 'public' }]);

    // RFC 7636 §4.3 and RFC 8707 §2: the authorization request carried S256 and the resource.
    const [authUrl] = provider.authorizationUrls;
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authUrl.searchParams.get('resource')).toBe(mcp.resource);
    expect(authUrl.searchParams.get('scope')).toBe('read');
    expect(provider.code).toBeTruthy();

    await first.finishAuth(String(provider.code));
    const [codeRequest] = tokenRequests();
    expect(codeRequest.body?.get('grant_type')).toBe('authorization_code');
    expect(codeRequest.body?.get('code_verifier')).toBeTruthy();
    expect(codeRequest.body?.getAll('resource')).toEqual([mcp.resource]);
    const firstTokens = provider.tokens();
    expect(firstTokens?.refresh_token).toBeTruthy();

    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(newTransport(provider));
    const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    expect(result.content).toEqual([{ type: 'text', text: '5' }]);
    // RFC 7662 §2.2 / RFC 8707: Latchkey says the token is for this MCP server.
    const used = mcp.introspections.filter((i) => i.active === true);
    expect(used.length).toBeGreaterThan(0);
    for (const i of used) expect(i.aud).toBe(mcp.resource);

    // RFC 7009: the access token is revoked; the MCP server answers 401, and the SDK refreshes
    // with its refresh token (RFC 6749 §6), sending the resource again (RFC 8707 §2).
    const revoked = await postForm(
      latchkey,
      '/o/revoke_token/',
      { token: String(firstTokens?.access_token) },
      { clientId: String(info?.client_id), clientSecret: null },
    );
    expect(revoked.status).toBe(200);
    const again = await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } });
    expect(again.content).toEqual([{ type: 'text', text: '42' }]);
    const refresh = tokenRequests().filter((r) => r.body?.get('grant_type') === 'refresh_token');
    expect(refresh).toHaveLength(1);
    expect(refresh[0].body?.getAll('resource')).toEqual([mcp.resource]);
    const secondTokens = provider.tokens();
    expect(secondTokens?.access_token).not.toBe(firstTokens?.access_token);
    const last = mcp.introspections.at(-1);
    expect(last).toMatchObject({ active: true, aud: mcp.resource, client_id: info?.client_id });
    // Only one authorization: the refresh needed no user.
    expect(provider.authorizationUrls).toHaveLength(1);
    await client.close();
  });

  it('RFC 8707 §2 / RFC 9068 §4: a token for another resource, or for no resource, is refused with 401', async () => {
    const call = (token: string) =>
      fetch(mcp.url, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
    const cc = (form: Record<string, string>) =>
      postForm(
        latchkey,
        '/o/token/',
        { grant_type: 'client_credentials', scope: 'read', ...form },
        introspector,
      );
    const other = await cc({ resource: OTHER });
    expect(other.status).toBe(200);
    const none = await cc({});
    expect(none.status).toBe(200);
    for (const token of [other.json.access_token, none.json.access_token, 'not-a-token']) {
      const res = await call(String(token));
      expect(res.status).toBe(401);
      // RFC 9728 §5.1: the challenge points at the resource metadata.
      expect(res.headers.get('www-authenticate')).toContain(`resource_metadata="${mcp.resourceMetadataUrl}"`);
    }
    // The same client's token for this MCP server is accepted (the refusals are about audience).
    const right = await cc({ resource: mcp.resource });
    expect((await call(String(right.json.access_token))).status).toBe(200);
  });
});
