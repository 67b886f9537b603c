import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResource } from '../../src/services/resources.js';
import { createUser } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import { authorize, makeClient, pkce, postForm, type TestClient } from '../helpers/oauth.js';
import { freePort } from '../helpers/ports.js';
import { ROOT, type Spawned, spawnProcess } from '../helpers/process.js';
import { type ResourceFixture, startResourceFixture } from '../helpers/resource-server.js';

/**
 * examples/ run as the README says (`node --import tsx examples/…`, configured by ISSUER,
 * RESOURCE, PORT, INTROSPECTION_CLIENT_ID/SECRET), called with a user's token from the
 * authorization-code flow of part 1 (with `resource`, RFC 8707), and the README's copy of the
 * notes API is the file itself.
 */

let f: ResourceFixture;
let notes: Spawned;
let mcp: Spawned;
let notesUrl: string;
let mcpUrl: string;

async function start(file: string, env: Record<string, string>, probe: string): Promise<Spawned> {
  const proc = spawnProcess(process.execPath, ['--import', 'tsx', file], env);
  // Ready once it answers at all (a 401 is an answer).
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ok = await fetch(probe).then(
      () => true,
      () => false,
    );
    if (ok) return proc;
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${file} did not start: ${proc.output()}`);
}

beforeAll(async () => {
  f = await startResourceFixture();
  const notesPort = await freePort();
  notesUrl = `http://127.0.0.1:${notesPort}/`;
  await createResource(f.latchkey.cli(), {
    identifier: notesUrl,
    name: 'Notes API',
    scopes: ['notes:read', 'notes:write'],
    accessTokenFormat: 'jwt',
  });
  const introspection = {
    INTROSPECTION_CLIENT_ID: f.introspector.clientId,
    INTROSPECTION_CLIENT_SECRET: String(f.introspector.clientSecret),
  };
  const mcpPort = await freePort();
  mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
  [notes, mcp] = await Promise.all([
    start(
      'examples/notes-api.ts',
      { ISSUER: f.issuer, RESOURCE: notesUrl, PORT: String(notesPort), ...introspection },
      `${notesUrl}notes`,
    ),
    start(
      'examples/mcp-server.ts',
      { ISSUER: f.issuer, RESOURCE: mcpUrl, PORT: String(mcpPort), ...introspection },
      mcpUrl,
    ),
  ]);
});
afterAll(async () => {
  await notes?.stop();
  await mcp?.stop();
  await f?.latchkey.stop();
});

/** RFC 6749 §4.1 with PKCE and RFC 8707 `resource` at both requests: the user's access token. */
async function userToken(agent: Agent, client: TestClient, scope: string): Promise<string> {
  const { verifier, challenge } = pkce();
  const { location } = await authorize(agent, {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    scope,
    resource: notesUrl,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const code = String(location.searchParams.get('code'));
  const res = await postForm(
    f.latchkey,
    '/o/token/',
    {
      grant_type: 'authorization_code',
      code,
      redirect_uri: client.redirectUri,
      code_verifier: verifier,
      resource: notesUrl,
    },
    client,
  );
  if (res.status !== 200) throw new Error(`token: ${res.status} ${res.text}`);
  return String(res.json.access_token);
}

describe('examples/notes-api.ts', () => {
  it('RFC 6749 §4.1 + RFC 8707 + RFC 6750: a user token from the code flow (resource = the notes API) writes and reads notes; a read-only token cannot write', async () => {
    await createUser(f.latchkey.cli(), { username: 'nora', password: 'nora-password' });
    const agent = new Agent(f.latchkey.url);
    await agent.login('nora', 'nora-password');
    const app = await makeClient(f.latchkey, { scopes: ['notes:read', 'notes:write'] });
    const auth = { Authorization: `Bearer ${await userToken(agent, app, 'notes:read notes:write')}` };

    const created = await fetch(`${notesUrl}notes`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'buy milk' }),
    });
    expect(created.status).toBe(201);
    const listed = await fetch(`${notesUrl}notes`, { headers: auth });
    expect(listed.status).toBe(200);
    expect((await listed.json()).map((n: { text: string }) => n.text)).toEqual(['buy milk']);

    const ro = await userToken(agent, app, 'notes:read');
    const denied = await fetch(`${notesUrl}notes`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ro}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'nope' }),
    });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toContain('scope="notes:write"');

    const anonymous = await fetch(`${notesUrl}notes`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain(
      `resource_metadata="${notesUrl}.well-known/oauth-protected-resource"`,
    );
    const metadata = await (await fetch(`${notesUrl}.well-known/oauth-protected-resource`)).json();
    expect(metadata).toMatchObject({ resource: notesUrl, authorization_servers: [f.issuer] });
  });

  it('the README part 2 shows examples/notes-api.ts as it is (importing latchkey/resource-server)', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const file = fs.readFileSync(path.join(ROOT, 'examples/notes-api.ts'), 'utf8');
    const block = /```ts\n(\/\/ A notes API protected by Latchkey tokens[\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    expect(block).toBe(
      file.replace("from '../src/resource-server/index.js'", "from 'latchkey/resource-server'"),
    );
  });
});

describe('examples/mcp-server.ts', () => {
  it('RFC 9728 §5.1: the MCP server started from the command line answers 401 naming its metadata, which names Latchkey', async () => {
    const res = await fetch(mcpUrl, { method: 'POST' });
    expect(res.status).toBe(401);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(String(res.headers.get('www-authenticate')))?.[1];
    expect(metadataUrl).toBe(mcpUrl.replace('/mcp', '/.well-known/oauth-protected-resource/mcp'));
    const metadata = await (await fetch(String(metadataUrl))).json();
    expect(metadata).toMatchObject({
      resource: mcpUrl,
      authorization_servers: [f.issuer],
      scopes_supported: ['read'],
    });
  });
});
