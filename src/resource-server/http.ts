import { UpstreamError } from './errors.js';

/** The fetch the library uses; injectable so an app can add a proxy, tracing or a test counter. */
export type Fetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface Upstream {
  fetch: Fetch;
  /** Whole exchange, headers and body. */
  timeoutMs: number;
  /** What a 503 tells the client to wait before retrying. */
  retryAfterSeconds: number;
}

/** Authorization server documents are small; a bigger body is a misconfiguration or an attack. */
const MAX_BYTES = 256 * 1024;

/**
 * Fetches a JSON document from the authorization server. Anything but a 200 with a JSON object
 * (network error, timeout, other status, oversized or unparsable body) is an UpstreamError:
 * nothing the authorization server failed to say may be taken as a verdict on a token.
 */
export async function fetchJson(
  upstream: Upstream,
  url: string,
  init: RequestInit = {},
): Promise<Record<string, unknown>> {
  const what = new URL(url).pathname;
  let res: Response;
  let text: string;
  try {
    res = await upstream.fetch(url, {
      ...init,
      headers: { Accept: 'application/json', ...init.headers },
      redirect: 'error',
      signal: AbortSignal.timeout(upstream.timeoutMs),
    });
    const declared = Number(res.headers.get('content-length') ?? 0);
    if (declared > MAX_BYTES) throw new Error(`body of ${declared} bytes`);
    text = await res.text();
  } catch (err) {
    throw new UpstreamError(`the authorization server did not answer (${what})`, upstream.retryAfterSeconds, {
      cause: err,
    });
  }
  if (res.status !== 200)
    throw new UpstreamError(
      `the authorization server answered ${res.status} (${what})`,
      upstream.retryAfterSeconds,
    );
  let json: unknown;
  try {
    if (text.length > MAX_BYTES) throw new Error('too large');
    json = JSON.parse(text);
  } catch {
    throw new UpstreamError(`the authorization server sent no JSON (${what})`, upstream.retryAfterSeconds);
  }
  if (!isObject(json))
    throw new UpstreamError(
      `the authorization server sent no JSON object (${what})`,
      upstream.retryAfterSeconds,
    );
  return json;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
