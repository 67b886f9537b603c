import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * The one way Latchkey fetches a URL it was given by someone else (client ID metadata documents,
 * later jwks_uri, sector identifiers): an SSRF-safe client (OWASP SSRF Prevention Cheat Sheet).
 * - https only; `allowPrivateNetwork` (OUTBOUND_ALLOW_PRIVATE_NETWORK, development and tests)
 *   also permits loopback/private addresses and http to a host that is loopback only.
 * - Every address a name resolves to is checked, and the socket connects to the address that was
 *   checked: the check runs inside the connection's own `lookup`, so a second DNS answer
 *   (rebinding) is never consulted. IP-literal hosts are checked the same way before connecting.
 * - No redirects by default; when followed (at most MAX_REDIRECTS), every hop is checked again.
 *   POSTs (back-channel logout tokens) never follow one.
 * - A deadline over the whole exchange, a size cap enforced while reading, JSON content type.
 * - A bounded LRU cache honouring Cache-Control max-age (clamped), serving a stale value for a
 *   bounded time when a refetch fails for a transient reason.
 */

/** Whole exchange (connect, headers, body), per hop. */
export const OUTBOUND_TIMEOUT_MS = 5000;
/** Default body cap; callers pass their own (metadata documents are far smaller). */
export const OUTBOUND_MAX_BYTES = 64 * 1024;
export const MAX_REDIRECTS = 3;
/** Freshness when a response says nothing about caching. */
export const DEFAULT_CACHE_SECONDS = 300;
/** Upper bound on any max-age a remote server asks for. */
export const MAX_CACHE_SECONDS = 86_400;
/** How long past its freshness a cached value may stand in for a failed refetch. */
export const MAX_STALE_SECONDS = 3600;
export const CACHE_ENTRIES = 1000;
/**
 * Network exchanges in progress at once per process, whoever asked: beyond it a fetch fails at
 * once ('busy') instead of queueing, so a flood of URLs costs bounded sockets and memory.
 */
export const OUTBOUND_MAX_CONCURRENT = 32;
const MAX_URL_LENGTH = 2048;

export type OutboundReason =
  | 'invalid_url'
  | 'scheme_not_allowed'
  | 'address_not_allowed'
  | 'dns_failure'
  | 'network'
  | 'timeout'
  | 'too_large'
  | 'redirect_not_allowed'
  | 'too_many_redirects'
  | 'http_status'
  | 'content_type'
  | 'invalid_json'
  | 'busy';

const DESCRIPTIONS: Record<OutboundReason, string> = {
  invalid_url: 'the URL is not an absolute URL without credentials',
  scheme_not_allowed: 'only https URLs are fetched',
  address_not_allowed: 'the host resolves to an address that is not publicly routable',
  dns_failure: 'the host name does not resolve',
  network: 'the connection failed',
  timeout: 'the server did not answer in time',
  too_large: 'the response is larger than allowed',
  redirect_not_allowed: 'the server answered with a redirect, which is not followed',
  too_many_redirects: 'too many redirects',
  http_status: 'the server did not answer 200 OK',
  content_type: 'the response is not JSON',
  invalid_json: 'the response is not valid JSON',
  busy: 'too many fetches are in progress; try again shortly',
};

/** Failures a later attempt may not repeat: the cached value may stand in for them. */
const TRANSIENT: ReadonlySet<OutboundReason> = new Set(['dns_failure', 'network', 'timeout', 'busy']);

/**
 * A refused or failed fetch. The message names the host and the reason only, never a resolved
 * address or a socket error, so it may be shown to the client that supplied the URL.
 */
export class OutboundError extends Error {
  override name = 'OutboundError';
  constructor(
    readonly reason: OutboundReason,
    readonly host: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`Fetching from ${host || 'the given URL'} failed: ${DESCRIPTIONS[reason]}.`, options);
  }

  get transient(): boolean {
    return TRANSIENT.has(this.reason) || (this.reason === 'http_status' && (this.status ?? 0) >= 500);
  }
}

/** Resolves a host name to every address (dns.lookup with all:true in production). */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

export interface OutboundOptions {
  allowPrivateNetwork: boolean;
  /** Tests inject names (evil.test → 127.0.0.1); production resolves with dns.lookup. */
  resolve?: Resolver;
  timeoutMs?: number;
  cacheEntries?: number;
  /** Milliseconds since the epoch; tests move the clock to age the cache. */
  now?: () => number;
  /** Trust anchors instead of the system store: tests' self-signed https servers only. */
  ca?: string;
  /** OUTBOUND_MAX_CONCURRENT unless a test says otherwise. */
  maxConcurrent?: number;
}

export interface FetchJsonOptions {
  maxBytes?: number;
  /** 0 (default): a redirect is an error. At most MAX_REDIRECTS. */
  maxRedirects?: number;
  /**
   * Awaited right before a network exchange starts — never for an answer from the cache or one
   * shared with a fetch already in progress; if it throws, nothing is fetched and the error
   * propagates. Per-requester limits count here, so only real fetches cost a requester.
   */
  beforeFetch?: () => Promise<void>;
  /**
   * Fetch again even if a fresh value is cached (a jwks_uri asked for a key it did not have); the
   * caller rate-limits how often. Parallel calls still share one fetch.
   */
  revalidate?: boolean;
}

const PRIVATE_RANGES_WHEN_ALLOWED = new Set(['loopback', 'private', 'uniqueLocal']);

/**
 * Is this address one the outbound client may connect to? Only globally routable unicast, seen
 * through an IPv4-mapped IPv6 form; everything else (loopback, private, link-local — the cloud
 * metadata address —, CGNAT, multicast, 6to4/Teredo/NAT64 tunnels to unknown v4, reserved) is
 * refused. The development knob opens loopback and private ranges, never link-local.
 */
export function isAllowedAddress(address: string, allowPrivateNetwork: boolean): boolean {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return false;
  }
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  const range = parsed.range();
  if (range === 'unicast') return true;
  return allowPrivateNetwork && PRIVATE_RANGES_WHEN_ALLOWED.has(range);
}

function isLoopbackAddress(address: string): boolean {
  try {
    let parsed = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
      parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    }
    return parsed.range() === 'loopback';
  } catch {
    return false;
  }
}

interface CacheEntry {
  value: unknown;
  freshUntil: number;
  staleUntil: number;
}

export class OutboundClient {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly resolve: Resolver;
  private readonly timeoutMs: number;
  private readonly cacheEntries: number;
  private readonly now: () => number;
  private readonly maxConcurrent: number;
  private outstanding = 0;

  constructor(private readonly options: OutboundOptions) {
    this.maxConcurrent = options.maxConcurrent ?? OUTBOUND_MAX_CONCURRENT;
    this.resolve = options.resolve ?? systemResolver;
    this.timeoutMs = options.timeoutMs ?? OUTBOUND_TIMEOUT_MS;
    this.cacheEntries = options.cacheEntries ?? CACHE_ENTRIES;
    this.now = options.now ?? Date.now;
  }

  /**
   * The parsed JSON at `url`, from the cache while fresh. Concurrent calls for one URL share one
   * fetch. The value is a copy: callers may not change what others read.
   */
  async fetchJson(url: string, opts: FetchJsonOptions = {}): Promise<unknown> {
    const key = `${opts.maxBytes ?? OUTBOUND_MAX_BYTES} ${url}`;
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.freshUntil > now && !opts.revalidate) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return structuredClone(hit.value);
    }
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.refresh(key, url, opts, hit).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return structuredClone(await pending);
  }

  private async refresh(key: string, url: string, opts: FetchJsonOptions, stale?: CacheEntry) {
    try {
      const { value, maxAge } = await this.gated(url, opts);
      const at = this.now();
      this.cache.delete(key);
      if (maxAge !== null) {
        while (this.cache.size >= this.cacheEntries) {
          const oldest = this.cache.keys().next().value;
          if (oldest === undefined) break;
          this.cache.delete(oldest);
        }
        const freshUntil = at + maxAge * 1000;
        this.cache.set(key, { value, freshUntil, staleUntil: freshUntil + MAX_STALE_SECONDS * 1000 });
      }
      return value;
    } catch (err) {
      if (stale && err instanceof OutboundError && err.transient && stale.staleUntil > this.now()) {
        return stale.value;
      }
      throw err;
    }
  }

  /**
   * One network exchange (with its redirects) within OUTBOUND_MAX_CONCURRENT: the slot is taken
   * synchronously, before any await, so parallel callers cannot all pass the check.
   */
  private async gated(url: string, opts: FetchJsonOptions) {
    if (this.outstanding >= this.maxConcurrent) throw new OutboundError('busy', hostOf(url));
    this.outstanding++;
    try {
      await opts.beforeFetch?.();
      return await this.fetchFollowing(url, opts);
    } finally {
      this.outstanding--;
    }
  }

  private async fetchFollowing(url: string, opts: FetchJsonOptions) {
    const maxRedirects = Math.min(Math.max(opts.maxRedirects ?? 0, 0), MAX_REDIRECTS);
    let current = url;
    for (let hop = 0; ; hop++) {
      const result = await this.fetchOnce(current, opts.maxBytes ?? OUTBOUND_MAX_BYTES);
      if (result.kind === 'done') return result;
      const host = hostOf(current);
      if (maxRedirects === 0) throw new OutboundError('redirect_not_allowed', host, result.status);
      if (hop >= maxRedirects) throw new OutboundError('too_many_redirects', host, result.status);
      try {
        current = new URL(result.location, current).href;
      } catch {
        throw new OutboundError('invalid_url', host);
      }
    }
  }

  private fetchOnce(
    raw: string,
    maxBytes: number,
  ): Promise<
    | { kind: 'done'; value: unknown; maxAge: number | null }
    | { kind: 'redirect'; location: string; status: number }
  > {
    return this.exchange(
      raw,
      { method: 'GET', headers: { accept: 'application/json' } },
      (res, host, fail, succeed) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && status !== 304 && res.headers.location) {
          res.resume();
          succeed({ kind: 'redirect', location: res.headers.location, status });
          return;
        }
        if (status !== 200) return fail(new OutboundError('http_status', host, status));
        if (!isJsonType(res.headers['content-type'])) return fail(new OutboundError('content_type', host));
        const encoding = res.headers['content-encoding'];
        if (encoding && encoding.toLowerCase() !== 'identity')
          return fail(new OutboundError('content_type', host));
        readCapped(res, host, maxBytes, fail, (body) => {
          let value: unknown;
          try {
            value = JSON.parse(body.toString('utf8'));
          } catch {
            return fail(new OutboundError('invalid_json', host));
          }
          succeed({ kind: 'done', value, maxAge: cacheSeconds(res.headers['cache-control']) });
        });
      },
    );
  }

  /**
   * POSTs an `application/x-www-form-urlencoded` body (a logout token to a back-channel logout
   * URI) under the same rules as every fetch: https (http on loopback only with the development
   * knob), every address checked in the connection's lookup, the deadline, the concurrency cap.
   * A redirect is never followed. The answer's status is returned whatever it is (the caller
   * decides what success is); its body is read up to a small cap and discarded.
   */
  async postForm(url: string, form: Record<string, string>): Promise<number> {
    if (this.outstanding >= this.maxConcurrent) throw new OutboundError('busy', hostOf(url));
    this.outstanding++;
    try {
      const body = new URLSearchParams(form).toString();
      return await this.exchange<number>(
        url,
        {
          method: 'POST',
          headers: {
            accept: '*/*',
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': String(Buffer.byteLength(body)),
          },
          body,
        },
        (res, host, fail, succeed) => {
          const status = res.statusCode ?? 0;
          readCapped(res, host, POST_ANSWER_MAX_BYTES, fail, () => succeed(status), true);
        },
      );
    } finally {
      this.outstanding--;
    }
  }

  /**
   * One checked HTTP exchange: the URL and every address it resolves to pass the rules, the
   * socket is fresh and connects to the checked address, the whole exchange has a deadline.
   * `onResponse` settles it with `succeed` or `fail` (each settles once; a late one is ignored).
   */
  private exchange<T>(
    raw: string,
    spec: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
    onResponse: (
      res: http.IncomingMessage,
      host: string,
      fail: (err: OutboundError) => void,
      succeed: (value: T) => void,
    ) => void,
  ): Promise<T> {
    const url = this.checkUrl(raw);
    const host = url.hostname;
    const literal = host.startsWith('[') ? host.slice(1, -1) : host;
    const httpOnLoopback = url.protocol === 'http:';
    if (ipaddr.isValid(literal) && !this.permits(literal, httpOnLoopback)) {
      throw new OutboundError(
        httpOnLoopback && isAllowedAddress(literal, true) ? 'scheme_not_allowed' : 'address_not_allowed',
        host,
      );
    }
    const lookup = this.checkedLookup(host, httpOnLoopback);
    const transport = url.protocol === 'https:' ? https : http;

    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const fail = (err: OutboundError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const succeed = (value: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve(value);
      };
      const req = transport.request(url, {
        method: spec.method,
        // A fresh connection per request: a pooled socket could have been opened without our check.
        agent: false,
        lookup,
        ...(this.options.ca ? { ca: this.options.ca } : {}),
        headers: { ...spec.headers, 'accept-encoding': 'identity', 'user-agent': 'Latchkey' },
      });
      const timer = setTimeout(() => fail(new OutboundError('timeout', host)), this.timeoutMs);
      req.on('error', (err: unknown) => {
        fail(
          err instanceof OutboundError
            ? err
            : new OutboundError(networkReason(err), host, undefined, { cause: err }),
        );
      });
      req.on('response', (res) => onResponse(res, host, fail, succeed));
      req.end(spec.body);
    });
  }

  private checkUrl(raw: string): URL {
    let url: URL;
    try {
      if (raw.length > MAX_URL_LENGTH) throw new Error('too long');
      url = new URL(raw);
    } catch {
      throw new OutboundError('invalid_url', '');
    }
    const allowed =
      url.protocol === 'https:' || (url.protocol === 'http:' && this.options.allowPrivateNetwork);
    if (!allowed) throw new OutboundError('scheme_not_allowed', url.hostname);
    if (url.username || url.password || !url.hostname) throw new OutboundError('invalid_url', url.hostname);
    return url;
  }

  private permits(address: string, httpOnLoopback: boolean): boolean {
    if (httpOnLoopback) return this.options.allowPrivateNetwork && isLoopbackAddress(address);
    return isAllowedAddress(address, this.options.allowPrivateNetwork);
  }

  /**
   * The connection's own lookup: it resolves once, refuses if any answer is not allowed (a
   * name with one public and one private address is not a public name), and hands the socket
   * exactly the checked addresses.
   */
  private checkedLookup(host: string, httpOnLoopback: boolean): LookupFunction {
    return (hostname, options, callback) => {
      this.resolve(hostname).then(
        (addresses) => {
          const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
          const usable = addresses.filter((a) => wanted === 0 || a.family === wanted);
          if (usable.length === 0) {
            callback(new OutboundError('dns_failure', host), '', 0);
            return;
          }
          if (!usable.every((a) => this.permits(a.address, httpOnLoopback))) {
            const reason =
              httpOnLoopback && usable.every((a) => this.permits(a.address, false))
                ? 'scheme_not_allowed'
                : 'address_not_allowed';
            callback(new OutboundError(reason, host), '', 0);
            return;
          }
          if (options.all) callback(null, usable);
          else callback(null, usable[0].address, usable[0].family);
        },
        (err: unknown) => callback(new OutboundError('dns_failure', host, undefined, { cause: err }), '', 0),
      );
    };
  }
}

/** What a POST's answer may carry before it is cut off (its body is not used). */
const POST_ANSWER_MAX_BYTES = 16 * 1024;

/**
 * Reads a response body up to `maxBytes` (the declared length is checked first); `discard`
 * stops at the cap without failing (an answer whose body nobody reads).
 */
function readCapped(
  res: http.IncomingMessage,
  host: string,
  maxBytes: number,
  fail: (err: OutboundError) => void,
  done: (body: Buffer) => void,
  discard = false,
): void {
  const declared = Number(res.headers['content-length']);
  if (!discard && Number.isFinite(declared) && declared > maxBytes) {
    fail(new OutboundError('too_large', host));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  res.on('data', (chunk: Buffer) => {
    if (finished) return;
    size += chunk.length;
    if (size > maxBytes) {
      finished = true;
      if (discard) done(Buffer.alloc(0));
      else fail(new OutboundError('too_large', host));
      return;
    }
    if (!discard) chunks.push(chunk);
  });
  res.on('error', (err) => fail(new OutboundError('network', host, undefined, { cause: err })));
  res.on('end', () => {
    if (finished) return;
    finished = true;
    done(Buffer.concat(chunks));
  });
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

function networkReason(err: unknown): OutboundReason {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'dns_failure' : 'network';
}

function isJsonType(value: string | undefined): boolean {
  if (!value) return false;
  const type = value.split(';')[0].trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/**
 * Seconds a response may be served from the cache (RFC 9111 §5.2.2): null for no-store (not
 * kept at all), 0 for no-cache (kept only as a stand-in on error), max-age clamped to
 * [0, MAX_CACHE_SECONDS], DEFAULT_CACHE_SECONDS when nothing is said.
 */
export function cacheSeconds(header: string | undefined): number | null {
  if (!header) return DEFAULT_CACHE_SECONDS;
  const directives = header
    .toLowerCase()
    .split(',')
    .map((d) => d.trim());
  if (directives.includes('no-store')) return null;
  if (directives.includes('no-cache')) return 0;
  for (const d of directives) {
    const m = /^max-age\s*=\s*"?(\d+)"?$/.exec(d);
    if (m) return Math.min(Number(m[1]), MAX_CACHE_SECONDS);
  }
  return DEFAULT_CACHE_SECONDS;
}
