import { createHash, randomBytes } from 'node:crypto';
import type { ApplicationInput } from '../../src/services/applications.js';
import { createApplication } from '../../src/services/applications.js';
import { createUser } from '../../src/services/users.js';
import { type Agent, basic, hiddenInputs } from './http.js';
import { remember, rememberFrom } from './ledger.js';
import type { TestServer } from './server.js';

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface TestClient {
  id: string;
  clientId: string;
  clientSecret: string | null;
  redirectUri: string;
}

let counter = 0;

/** Creates a user (if needed) and an application owned by them, as the CLI would. */
export async function makeClient(
  server: TestServer,
  input: Partial<ApplicationInput> = {},
  owner = 'owner',
): Promise<TestClient> {
  const ctx = server.cli();
  const { findUserByUsername } = await import('../../src/services/users.js');
  const user =
    (await findUserByUsername(ctx, owner)) ??
    (await createUser(ctx, { username: owner, password: `${owner}-password` }));
  const redirectUri = input.redirectUris?.[0] ?? 'https://client.example.com/cb';
  const { application, clientSecret } = await createApplication(server.cli(), user, {
    name: `App ${++counter}`,
    clientType: 'confidential',
    grantTypes: ['authorization_code'],
    redirectUris: [redirectUri],
    ...input,
  });
  remember('client_secret', clientSecret);
  return { id: application.id, clientId: application.clientId, clientSecret, redirectUri };
}

/** POSTs a form to the token endpoint (or another protocol endpoint) with optional Basic auth. */
export async function postForm(
  server: TestServer,
  path: string,
  form: Record<string, string>,
  client?: { clientId: string; clientSecret: string | null },
  headers: Record<string, string> = {},
) {
  const h: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', ...headers };
  if (client?.clientSecret) h.Authorization = basic(client.clientId, client.clientSecret);
  else if (client) form = { client_id: client.clientId, ...form };
  const res = await fetch(new URL(path, server.url), {
    method: 'POST',
    headers: h,
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (revocation answers an empty body)
  }
  rememberFrom(json);
  for (const k of [
    'password',
    'client_secret',
    'code',
    'refresh_token',
    'code_verifier',
    'token',
    'device_code',
  ])
    remember(k, form[k]);
  return { status: res.status, headers: res.headers, json, text };
}

export function authorizePath(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  return `/o/authorize/?${q.toString()}`;
}

/**
 * Runs the browser side of the code flow with an Agent already logged in: GET the authorization
 * URL, approve the consent page if shown, and return the redirect back to the client.
 */
export async function authorize(
  agent: Agent,
  params: Record<string, string | undefined>,
  decision: 'allow' | 'deny' = 'allow',
): Promise<{ location: URL; consentShown: boolean }> {
  const first = await agent.get(authorizePath(params));
  let consentShown = false;
  let res = first;
  if (first.status === 200 && first.text.includes('name="consent_request"')) {
    consentShown = true;
    const hidden = hiddenInputs(first.text, '/o/authorize/');
    const form: Record<string, string> = { ...hidden };
    if (decision === 'allow') form.allow = 'Allow';
    res = await agent.post('/o/authorize/', form);
  }
  if (res.status !== 302 || !res.location)
    throw new Error(`authorize: expected a redirect, got ${res.status}: ${res.text.slice(0, 300)}`);
  const location = new URL(res.location, agent.base);
  remember('code', location.searchParams.get('code'));
  remember('access_token', new URLSearchParams(location.hash.slice(1)).get('access_token'));
  return { location, consentShown };
}

/** A full code flow for a confidential client: returns the token response JSON. */
export async function codeFlow(
  server: TestServer,
  agent: Agent,
  client: TestClient,
  extra: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const { verifier, challenge } = pkce();
  const { location } = await authorize(agent, {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    state: 'xyz',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  const code = location.searchParams.get('code');
  if (!code) throw new Error(`no code in ${location}`);
  const res = await postForm(
    server,
    '/o/token/',
    { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: verifier },
    client,
  );
  if (res.status !== 200) throw new Error(`token: ${res.status} ${res.text}`);
  return res.json;
}
