// An MCP server (the official @modelcontextprotocol/sdk, Streamable HTTP, stateless) protected by
// Latchkey tokens. MCP clients discover Latchkey from the 401's resource_metadata (RFC 9728).
// Run: ISSUER=http://localhost:8000 RESOURCE=http://localhost:3001/mcp PORT=3001 \
//   INTROSPECTION_CLIENT_ID=… INTROSPECTION_CLIENT_SECRET=… node --import tsx examples/mcp-server.ts
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import { z } from 'zod';
import {
  protectedResourceMetadata,
  type RequireTokenOptions,
  requireToken,
} from '../src/resource-server/index.js';

/** The MCP server of one request: an `add` tool, and `whoami`, which reads the verified token. */
function tools(): McpServer {
  const mcp = new McpServer({ name: 'latchkey-example', version: '1.0.0' });
  mcp.registerTool(
    'add',
    { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
  );
  // requireToken's req.auth is a superset of the SDK's AuthInfo: tools get it as extra.authInfo.
  mcp.registerTool('whoami', { description: 'Who the access token is for' }, async (extra) => ({
    content: [
      {
        type: 'text',
        text: JSON.stringify({ sub: extra.authInfo?.extra?.sub, client_id: extra.authInfo?.clientId }),
      },
    ],
  }));
  return mcp;
}

export function mcpServer(options: RequireTokenOptions & { scope: string }): express.Express {
  const app = express();
  app.use(
    protectedResourceMetadata({
      resource: options.resource,
      authorizationServers: [options.issuer],
      scopesSupported: [options.scope],
      resourceName: 'Latchkey example MCP server',
    }),
  );
  const path = new URL(options.resource).pathname;
  app.all(path, requireToken({ ...options, scopes: [options.scope] }), express.json(), async (req, res) => {
    // Stateless: a fresh server and transport per request (the SDK's documented stateless mode).
    const mcp = tools();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 3001);
  const id = process.env.INTROSPECTION_CLIENT_ID;
  const resource = process.env.RESOURCE ?? `http://localhost:${port}/mcp`;
  const app = mcpServer({
    issuer: process.env.ISSUER ?? 'http://localhost:8000',
    resource,
    scope: process.env.SCOPE ?? 'read',
    introspection: id
      ? { clientId: id, clientSecret: process.env.INTROSPECTION_CLIENT_SECRET ?? '' }
      : undefined,
    onError: (err) => console.error(`mcp-server: ${err.message}`),
  });
  app.listen(port, () => console.log(`MCP server on ${resource}`));
}
