import type { Server } from 'node:http';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { mcpServer } from '../../examples/mcp-server.js';
import type { Agent } from './http.js';
import { authorize, type TestClient } from './oauth.js';
import { freePort } from './ports.js';
import type { TestServer } from './server.js';

/**
 * The MCP server of examples/mcp-server.ts (the SDK's McpServer, an `add` tool, stateless
 * Streamable HTTP, protected by latchkey/resource-server's requireToken) on a free port, and an
 * in-memory OAuth client provider for the SDK's client whose "browser" is an Agent already
 * logged in to Latchkey. Only the test's glue is here: discovery, registration, PKCE,
 * `resource` and refresh are the SDK's own.
 */

export interface McpTestServer {
  /** The MCP endpoint, which is also its RFC 8707 resource identifier. */
  url: string;
  resource: string;
  resourceMetadataUrl: string;
  /** Every introspection answer the MCP server got from Latchkey, in order. */
  introspections: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * Starts the MCP server on a free port; `scope` is required of every token. The library
 * introspects at Latchkey as `introspector` (a confidential client allowed the `introspection`
 * scope) with its answer cache off, so a revocation is seen at once (the SDK's refresh is what
 * these tests watch); its fetch records each introspection answer for the assertions.
 */
export async function startMcpServer(
  latchkey: TestServer,
  introspector: TestClient,
  scope: string,
): Promise<McpTestServer> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const resource = `${origin}/mcp`;
  const introspections: Record<string, unknown>[] = [];
  const recording = async (input: string | URL, init?: RequestInit) => {
    const res = await fetch(input, init);
    if (new URL(input).pathname === '/o/introspect/' && res.status === 200)
      introspections.push((await res.clone().json()) as Record<string, unknown>);
    return res;
  };
  const app = mcpServer({
    issuer: latchkey.runtime.config.issuer,
    resource,
    scope,
    introspection: { clientId: introspector.clientId, clientSecret: String(introspector.clientSecret) },
    introspectionCacheSeconds: 0,
    fetch: recording,
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
  return {
    url: resource,
    resource,
    // RFC 9728 §3.1: the well-known segment between the host and the resource's path.
    resourceMetadataUrl: `${origin}/.well-known/oauth-protected-resource/mcp`,
    introspections,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * The SDK's OAuthClientProvider, in memory. `redirectToAuthorization` plays the user: the
 * logged-in Agent opens the authorization URL, allows on the consent page, and the code from
 * the redirect back to `redirectUrl` is kept for the test's `transport.finishAuth(code)`.
 */
export class TestOAuthClientProvider implements OAuthClientProvider {
  private info: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = '';
  /** Every authorization URL the SDK sent the user to. */
  readonly authorizationUrls: URL[] = [];
  /** The code of the last authorization, for finishAuth. */
  code: string | undefined;
  readonly clientMetadataUrl?: string;

  constructor(
    private readonly agent: Agent,
    readonly redirectUrl: string,
    opts: { clientMetadataUrl?: string } = {},
  ) {
    this.clientMetadataUrl = opts.clientMetadataUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'MCP SDK test client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizationUrls.push(url);
    if (url.origin !== new URL(this.agent.base).origin)
      throw new Error(`unexpected authorization server ${url}`);
    const { location } = await authorize(this.agent, Object.fromEntries(url.searchParams));
    if (`${location.origin}${location.pathname}` !== this.redirectUrl)
      throw new Error(`redirected to ${location}`);
    this.code = location.searchParams.get('code') ?? undefined;
    if (!this.code) throw new Error(`no code in ${location}`);
  }
}

/** A fetch that records what the SDK sends (method, URL, form body), for the assertions. */
export function recordingFetch(log: { method: string; url: URL; body: URLSearchParams | null }[]) {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input);
    const body = init?.body;
    log.push({
      method: init?.method ?? 'GET',
      url,
      body: body instanceof URLSearchParams ? new URLSearchParams(body) : null,
    });
    return fetch(input, init);
  };
}
