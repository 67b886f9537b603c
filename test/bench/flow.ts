import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Measurement } from './scenarios.js';

/**
 * A browser-less OAuth client for the benchmark: logs in through the login page once, then runs
 * authorization-code + PKCE (S256) flows with that session on keep-alive connections.
 *
 * Flows use node:http with a keep-alive agent rather than fetch: on a 2-core machine the client
 * shares the CPU with the server, and fetch (undici) spends 0.2–0.8 ms of CPU per request where
 * node:http spends ~0.07 ms — with fetch the client alone took ~60% of a core at 300 flows/s.
 */

export interface FlowClientConfig {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export interface FlowOptions {
  scope: string;
  /** Send a nonce (OpenID Connect) and expect an id_token. */
  nonce: boolean;
  /** RFC 8707: this `resource` at the authorization request and at the token request. */
  resource?: string;
  /** RFC 9449: a fresh DPoP proof for the token request (the tokens must come back DPoP-bound). */
  dpopProof?: (htu: string) => Promise<string>;
}

export interface TokenSet {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  id_token?: string;
  scope?: string;
}

/**
 * A failed flow. `status`: an unexpected HTTP status or an error redirect (counted as non-2xx);
 * `error`: anything else (network error, a 2xx body without what it must carry).
 */
export class FlowFailure extends Error {
  constructor(
    readonly kind: 'status' | 'error',
    message: string,
  ) {
    super(message);
  }
}

/** HTTP Basic client authentication: id and secret form-urlencoded before base64 (RFC 6749 §2.3.1). */
export function basicAuth(clientId: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`;
}

/** `name=value` pairs of a response's Set-Cookie headers (attributes dropped). */
export function setCookies(res: Response): Map<string, string> {
  const jar = new Map<string, string>();
  for (const line of res.headers.getSetCookie()) {
    const pair = line.split(';', 1)[0];
    const eq = pair.indexOf('=');
    if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return jar;
}

/** Logs in through GET+POST /accounts/login/; returns the Cookie header carrying the session. */
export async function login(baseUrl: string, username: string, password: string): Promise<string> {
  const page = await fetch(`${baseUrl}/accounts/login/?next=/`, { redirect: 'manual' });
  const html = await page.text();
  const input = /<input\b[^>]*\bname="csrf_token"[^>]*>/.exec(html)?.[0];
  const csrfToken = input && /\bvalue="([^"]*)"/.exec(input)?.[1];
  const csrfCookie = [...setCookies(page)].find(([name]) => name.endsWith('lk_csrf'));
  if (page.status !== 200 || !csrfToken || !csrfCookie) {
    throw new Error(
      `GET /accounts/login/ answered ${page.status} without a csrf_token input and lk_csrf cookie`,
    );
  }
  const res = await fetch(`${baseUrl}/accounts/login/`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Cookie: `${csrfCookie[0]}=${csrfCookie[1]}`,
    },
    body: new URLSearchParams({ username, password, csrf_token: csrfToken, next: '/' }),
  });
  await res.arrayBuffer();
  const session = [...setCookies(res)].find(([name]) => name.endsWith('lk_session'));
  if (res.status !== 303 || !session) {
    throw new Error(
      `POST /accounts/login/ as ${username} answered ${res.status} without an lk_session cookie`,
    );
  }
  return `${session[0]}=${session[1]}`;
}

export interface Answer {
  status: number;
  location: string;
  body: string;
}

/** Requests to one server on keep-alive connections (node:http: see the module comment). */
export class KeepAliveClient {
  private readonly agent = new http.Agent({ keepAlive: true });

  constructor(readonly baseUrl: string) {}

  send(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body = ''): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${this.baseUrl}${path}`,
        { method, headers, agent: this.agent, timeout: 10_000 },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, location: res.headers.location ?? '', body: text }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

export class CodeFlow {
  private readonly http: KeepAliveClient;

  constructor(
    readonly client: FlowClientConfig,
    private readonly sessionCookie: string,
  ) {
    this.http = new KeepAliveClient(client.baseUrl);
  }

  private send(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body = '') {
    return this.http.send(method, path, headers, body);
  }

  /** One complete flow: authorize (302 with a code) → token (200 with tokens). */
  async run(opts: FlowOptions): Promise<TokenSet> {
    const { clientId, clientSecret, redirectUri } = this.client;
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(12).toString('base64url');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      scope: opts.scope,
    });
    if (opts.nonce) query.set('nonce', randomBytes(12).toString('base64url'));
    if (opts.resource) query.set('resource', opts.resource);
    const authorize = `GET /o/authorize/?${query}`;
    const res = await this.send('GET', `/o/authorize/?${query}`, { Cookie: this.sessionCookie });
    if (res.status !== 302 || !res.location.startsWith(`${redirectUri}?`)) {
      const where = res.location ? ` to ${res.location.slice(0, 120)}` : `: ${res.body.slice(0, 200)}`;
      throw new FlowFailure('status', `${authorize} answered ${res.status}${where}`);
    }
    const back = new URL(res.location).searchParams;
    const code = back.get('code');
    if (!code || back.get('state') !== state) {
      throw new FlowFailure(
        'status',
        `${authorize} redirected without code or state: ${res.location.slice(0, 200)}`,
      );
    }

    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    });
    if (opts.resource) form.set('resource', opts.resource);
    const headers: Record<string, string> = {
      Authorization: basicAuth(clientId, clientSecret),
      'Content-Type': 'application/x-www-form-urlencoded',
    };
    if (opts.dpopProof) headers.DPoP = await opts.dpopProof(`${this.client.baseUrl}/o/token/`);
    const tokenRes = await this.send('POST', '/o/token/', headers, form.toString());
    const token = `POST /o/token/ grant_type=authorization_code (after ${authorize})`;
    if (tokenRes.status !== 200) {
      throw new FlowFailure('status', `${token} answered ${tokenRes.status}: ${tokenRes.body.slice(0, 200)}`);
    }
    const body = JSON.parse(tokenRes.body) as Partial<TokenSet>;
    if (
      typeof body.access_token !== 'string' ||
      (opts.nonce && typeof body.id_token !== 'string') ||
      (opts.dpopProof && body.token_type !== 'DPoP')
    ) {
      throw new FlowFailure(
        'error',
        `${token} answered 200 without the expected tokens: ${tokenRes.body.slice(0, 200)}`,
      );
    }
    return body as TokenSet;
  }
}

/** Runs flows back to back on `workers` concurrent loops for `seconds`; latency is per complete flow. */
export function runFlows(flow: CodeFlow, opts: FlowOptions & { seconds: number; workers: number }) {
  return runLoops(opts, async () => {
    await flow.run(opts);
  });
}

/**
 * Runs `step` back to back on `workers` concurrent loops for `seconds` (a loop's own state, such
 * as the refresh token it holds, lives in the step's closure over its index); latency per step.
 */
export async function runLoops(
  opts: { seconds: number; workers: number },
  step: (worker: number) => Promise<void>,
): Promise<Measurement> {
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let sample: string | undefined;
  const worker = async (index: number) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await step(index);
        latencies.push(performance.now() - t0);
      } catch (err) {
        if (err instanceof FlowFailure && err.kind === 'status') non2xx++;
        else errors++;
        sample ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.workers }, (_, i) => worker(i)));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    rate: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    non2xx,
    errors,
    seconds,
    sample,
  };
}

/** Nearest-rank percentile of ascending values (0 when empty). */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
