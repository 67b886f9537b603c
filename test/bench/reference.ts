import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/ports.js';
import { ROOT } from '../helpers/process.js';
import { setCookies, type TokenSet } from './flow.js';

/**
 * The reference server of the shared benchmark kit (`../shared/bench/reference`: node-oidc-provider
 * 9.13.3 with its in-memory store over a large LRU, as compare.sh's `ref-mem`), started next to
 * Latchkey by `npm run bench -- --reference` so that the scenarios compare.sh does not cover
 * (refresh rotation, DPoP, JWT access tokens, userinfo) are measured against it the same way:
 * same driver, same load, interleaved rounds. Its tokens bound to its one resource are JWTs
 * (RESOURCE_TOKEN_FORMAT=jwt); every other token it issues stays opaque.
 *
 * The kit is not part of this repository: it is copied to a temporary folder and installed with
 * `npm ci` there on first use.
 */
export interface ReferenceEnv {
  baseUrl: string;
  pid: number;
  /** Its client_credentials client (HTTP Basic). */
  cc: { clientId: string; clientSecret: string };
  /** Its one resource indicator (scopes read, write), whose tokens are JWTs. */
  resource: string;
  /**
   * Tokens from a complete authorization-code + PKCE flow of its public client (whose refresh
   * tokens the reference rotates at every use: oidc-provider rotates public clients' tokens).
   */
  userTokens(scope: string): Promise<TokenSet>;
  /** Its public client, for refresh requests. */
  publicClientId: string;
  stop(): Promise<void>;
}

const KIT = path.resolve(ROOT, '../shared/bench/reference');
const REDIRECT_URI = 'http://127.0.0.1:9999/cb';

export function referenceAvailable(): boolean {
  return fs.existsSync(path.join(KIT, 'server.mjs'));
}

export async function startReference(): Promise<ReferenceEnv> {
  if (!referenceAvailable()) throw new Error(`no reference server at ${KIT}`);
  const work = path.join(os.tmpdir(), 'latchkey-bench-reference');
  fs.mkdirSync(work, { recursive: true });
  for (const name of fs.readdirSync(KIT)) {
    if (name === 'node_modules' || name === 'clients.json' || name === 'keys') continue;
    fs.cpSync(path.join(KIT, name), path.join(work, name), { recursive: true });
  }
  if (!fs.existsSync(path.join(work, 'node_modules/oidc-provider'))) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: work, stdio: 'ignore' });
  }
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = { ...process.env, ISSUER: baseUrl, REDIRECT_URI };
  const provisioned = JSON.parse(
    execFileSync(process.execPath, ['provision.mjs'], { cwd: work, env, encoding: 'utf8' }),
  ) as { clients: Record<string, { client_id: string; client_secret: string | null }> };
  const child: ChildProcess = spawn(process.execPath, ['server.mjs'], {
    cwd: work,
    env: {
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      MEMORY_LRU_MAX: '1000000',
      RESOURCE_TOKEN_FORMAT: 'jwt',
      DATABASE_URL: '',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
  try {
    await untilUp(`${baseUrl}/.well-known/openid-configuration`);
  } catch (err) {
    await stop();
    throw err;
  }
  const { client_credentials: cc, auth_code_public_pkce: pub } = provisioned.clients;
  const jar = new Map<string, string>();
  return {
    baseUrl,
    pid: child.pid!,
    cc: { clientId: cc.client_id, clientSecret: cc.client_secret ?? '' },
    resource: 'urn:peer:api',
    publicClientId: pub.client_id,
    userTokens: (scope) => codeFlow(baseUrl, pub.client_id, scope, jar),
    stop,
  };
}

async function untilUp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the reference server did not answer ${url} within 10 s`);
}

/**
 * One authorization-code + PKCE flow against the reference, signing in through its interaction
 * pages (login alice/alice-pass, then consent) the first time; later flows ride the session in
 * `jar` and come straight back with a code.
 */
async function codeFlow(
  baseUrl: string,
  clientId: string,
  scope: string,
  jar: Map<string, string>,
): Promise<TokenSet> {
  const verifier = randomBytes(32).toString('base64url');
  const query = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope,
    state: randomBytes(8).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  let url = `${baseUrl}/auth?${query}`;
  let form: string | undefined;
  let code: string | null = null;
  for (let step = 0; step < 12 && !code; step++) {
    const res = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        Cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form,
    });
    for (const [k, v] of setCookies(res)) jar.set(k, v);
    const html = await res.text();
    form = undefined;
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, url);
      if (next.href.startsWith(REDIRECT_URI)) code = next.searchParams.get('code');
      url = next.href;
      continue;
    }
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    if (res.status !== 200 || !prompt) {
      throw new Error(`reference: ${url} answered ${res.status}: ${html.slice(0, 200)}`);
    }
    form =
      prompt === 'login'
        ? new URLSearchParams({ prompt, login: 'alice', password: 'alice-pass' }).toString()
        : new URLSearchParams({ prompt }).toString();
  }
  if (!code) throw new Error('reference: the flow did not come back with a code');
  const res = await fetch(`${baseUrl}/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      client_id: clientId,
    }),
  });
  const body = (await res.json()) as TokenSet;
  if (!res.ok || !body.access_token) {
    throw new Error(`reference: token request answered ${res.status}: ${JSON.stringify(body).slice(0, 200)}`);
  }
  return body;
}
