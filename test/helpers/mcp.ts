import type { Server } from 'node:http';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import express from 'express';
import { z } from 'zod';
import type { Agent } from './http.js';
import { authorize, postForm, type TestClient } from './oauth.js';
import { freePort } from './ports.js';
import type { TestServer } from './server.js';

/**
 * An MCP server (the SDK's McpServer, one `add` tool, stateless Streamable HTTP) protected by
 * Latchkey tokens, and an in-memory OAuth client provider for the SDK's client whose "browser"
 * is an Agent already logged in to Latchkey. Only the test's glue is here: discovery,
 * registration, PKCE, `resource` and refresh are the SDK's own.
 */

export interface McpTestServer {
  /** The MCP endpoint, which is also its RFC 8707 resource identifier. */
  url: string;
  resource: string;
  resourceMetadataUrl: string;
  /** Every introspection answer the verifier got, in order. */
  introspections: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * The verifier of the MCP server: RFC 7662 introspection at Latchkey as a confidential client
 * allowed the `introspection` scope; the token must be active and its `aud` this resource
 * (RFC 8707 / RFC 9068: a token for another resource is refused). Scopes are checked by the
 * SDK's requireBearerAuth (requiredScopes). Issue 16 replaces this with Latchkey's library.
 */
function introspectionVerifier(
  latchkey: TestServer,
  introspector: TestClient,
  resource: string,
  seen: Record<string, unknown>[],
) {
  return {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      const { status, json } = await postForm(latchkey, '/o/introspect/', { token }, introspector);
      if (status !== 200) throw new Error(`introspection answered ${status}`);
      seen.push(json);
      if (json.active !== true) throw new InvalidTokenError('The token is not active.');
      if (json.aud !== resource) throw new InvalidTokenError('The token is not for this resource.');
      return {
        token,
        clientId: String(json.client_id),
        scopes: String(json.scope ?? '')
          .split(' ')
          .filter(Boolean),
        expiresAt: Number(json.exp),
        resource: new URL(resource),
      };
    },
  };
}

/** Starts the MCP server on a free port; `scope` is required of every token. */
export async function startMcpServer(
  latchkey: TestServer,
  introspector: TestClient,
  scope: string,
): Promise<McpTestServer> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const resource = `${origin}/mcp`;
  const resourceMetadataUrl = `${origin}/.well-known/oauth-protected-resource/mcp`;
  const introspections: Record<string, unknown>[] = [];

  const app = express();
  app.use(express.json());
  // RFC 9728 §3: the path-suffixed form (what the challenge names) and the root form.
  const metadata = {
    resource,
    authorization_servers: [latchkey.runtime.config.issuer],
    scopes_supported: [scope],
    bearer_methods_supported: ['header'],
    resource_name: 'Latchkey test MCP server',
  };
  for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource'])
    app.get(path, (_req, res) => void res.json(metadata));

  const bearer = requireBearerAuth({
    verifier: introspectionVerifier(latchkey, introspector, resource, introspections),
    requiredScopes: [scope],
    resourceMetadataUrl,
  });
  app.all('/mcp', bearer, async (req, res) => {
    // Stateless: a fresh server and transport per request (the SDK's documented stateless mode).
    const mcp = new McpServer({ name: 'latchkey-test', version: '1.0.0' });
    mcp.registerTool(
      'add',
      { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } },
      async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
    );
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });

  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
  return {
    url: resource,
    resource,
    resourceMetadataUrl,
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
