import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client';

/**
 * Prometheus metrics, one registry per process (a process is one server; several in-process test
 * servers share it). Recording is off until a server with METRICS_PORT starts
 * (`enableMetrics`): every recording function returns at its first line otherwise, so metrics cost
 * nothing when nobody scrapes them.
 *
 * Labels are bounded by the code, never by the caller: routes are the registered route templates,
 * error codes the server's own constants, GraphQL operation names capped (`operationLabel`).
 * No client id, user or address is ever a label.
 */
export const registry = new Registry();
let enabled = false;

export function enableMetrics(): void {
  if (enabled) return;
  enabled = true;
  collectDefaultMetrics({ register: registry });
}

export function metricsEnabled(): boolean {
  return enabled;
}

const registers = [registry];

const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The request counter and latency histogram sit on every request, so they keep their own
 * storage: one Map lookup by a concatenated key and a bucket index per request, where prom-client's
 * Counter and Histogram validate and hash their label objects on every call (~4 % of a token
 * request's CPU, measured). The registry reads them at scrape time in its own format.
 */
interface RequestSeries {
  labels: Record<string, string>;
  buckets: number[];
  sum: number;
  count: number;
  /** Requests by OAuth / GraphQL error code ('' for none): the counter's extra label. */
  errors: Map<string, number>;
}
const requestSeries = new Map<string, RequestSeries>();

/** A metric the registry formats like its own (it calls `get()`), over `requestSeries`. */
function seriesMetric(
  name: string,
  help: string,
  type: 'counter' | 'histogram',
  values: () => Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>,
): Metric {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => requestSeries.clear(),
  };
  return metric as unknown as Metric;
}

registry.registerMetric(
  seriesMetric(
    'latchkey_http_requests_total',
    'HTTP requests answered, by door, route template, method, status class and OAuth error code',
    'counter',
    () =>
      [...requestSeries.values()].flatMap((s) =>
        [...s.errors].map(([error, value]) => ({ labels: { ...s.labels, error }, value })),
      ),
  ),
);

registry.registerMetric(
  seriesMetric(
    'latchkey_http_request_duration_seconds',
    'Time from the request to the end of the answer, by door, route template, method and status class',
    'histogram',
    () =>
      [...requestSeries.values()].flatMap((s) => {
        let cumulative = 0;
        const name = 'latchkey_http_request_duration_seconds';
        return [
          ...REQUEST_BUCKETS.map((le, i) => {
            cumulative += s.buckets[i];
            return { labels: { ...s.labels, le }, value: cumulative, metricName: `${name}_bucket` };
          }),
          { labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${name}_bucket` },
          { labels: s.labels, value: s.sum, metricName: `${name}_sum` },
          { labels: s.labels, value: s.count, metricName: `${name}_count` },
        ];
      }),
  ),
);

const tokensIssued = new Counter({
  name: 'latchkey_tokens_issued_total',
  help: 'Successful token endpoint responses, by grant type',
  labelNames: ['grant_type'] as const,
  registers,
});

const replays = new Counter({
  name: 'latchkey_token_replays_total',
  help: 'Replays detected: a rotated refresh token presented again (its family revoked), an authorization code redeemed twice',
  labelNames: ['kind'] as const,
  registers,
});

const logins = new Counter({
  name: 'latchkey_login_attempts_total',
  help: 'Password authentications (login page and password grant): success, failure, locked (brute-force limit), busy (hashing gate full)',
  labelNames: ['outcome'] as const,
  registers,
});

const graphqlOperations = new Counter({
  name: 'latchkey_graphql_operations_total',
  help: 'GraphQL operations, by operation name (capped), type and first error code (none when it succeeded)',
  labelNames: ['operation', 'type', 'code'] as const,
  registers,
});

const batchSizes = new Histogram({
  name: 'latchkey_db_batch_size',
  help: 'Rows per multi-row statement of the write/lookup batcher',
  labelNames: ['batch'] as const,
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  registers,
});

const cleanupDeleted = new Counter({
  name: 'latchkey_cleanup_rows_deleted_total',
  help: 'Expired rows the background cleanup deleted, by table',
  labelNames: ['table'] as const,
  registers,
});

const backchannelLogouts = new Counter({
  name: 'latchkey_backchannel_logouts_total',
  help: 'OIDC Back-Channel Logout deliveries: delivered, failed (an attempt; retried unless given up), given_up (attempts or age exhausted), dropped (queue over BACKCHANNEL_LOGOUT_MAX_PENDING)',
  labelNames: ['outcome'] as const,
  registers,
});

export interface PoolStats {
  /** `sql` (the native statements of the hot paths) or `orm` (admin CRUD, transactions). */
  pool: string;
  max: number;
  total: number;
  inUse: number;
  waiting: number;
}

const pools = new Set<() => PoolStats[]>();
const keySources = new Set<() => ReadonlyArray<{ alg: string; status: string; createdAt?: Date }>>();
const drainingSources = new Set<() => boolean>();

new Gauge({
  name: 'latchkey_db_pool_connections',
  help: 'Database connections by pool and state: max (configured), open, in_use, waiting (requests queued for a connection)',
  labelNames: ['pool', 'state'] as const,
  registers,
  collect() {
    this.reset();
    for (const source of pools) {
      for (const p of source()) {
        this.inc({ pool: p.pool, state: 'max' }, p.max);
        this.inc({ pool: p.pool, state: 'open' }, p.total);
        this.inc({ pool: p.pool, state: 'in_use' }, p.inUse);
        this.inc({ pool: p.pool, state: 'waiting' }, p.waiting);
      }
    }
  },
});

new Gauge({
  name: 'latchkey_signing_key_age_seconds',
  help: 'Age of the active signing key, by algorithm (rotate-keys makes new ones)',
  labelNames: ['alg'] as const,
  registers,
  collect() {
    this.reset();
    const now = Date.now();
    for (const source of keySources) {
      for (const key of source()) {
        if (key.status === 'active' && key.createdAt)
          this.set({ alg: key.alg }, (now - key.createdAt.getTime()) / 1000);
      }
    }
  },
});

new Gauge({
  name: 'latchkey_draining',
  help: '1 from SIGTERM until the listener closes (/readyz answers 503), else 0',
  registers,
  collect() {
    this.set([...drainingSources].some((draining) => draining()) ? 1 : 0);
  },
});

/** Registers a source of gauge readings; returns its removal (the server's shutdown calls it). */
function source<T>(set: Set<T>, read: T): () => void {
  set.add(read);
  return () => set.delete(read);
}

export const observePools = (read: () => PoolStats[]) => source(pools, read);
export const observeKeys = (read: () => ReadonlyArray<{ alg: string; status: string; createdAt?: Date }>) =>
  source(keySources, read);
export const observeDraining = (read: () => boolean) => source(drainingSources, read);

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const STATUS_CLASSES = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

export function statusClass(status: number): string {
  return STATUS_CLASSES[Math.floor(status / 100)] ?? 'other';
}

/** One answered request. `error`: the OAuth / GraphQL error code, or '' for none. */
export function recordRequest(
  door: string,
  route: string,
  method: string,
  status: number,
  error: string,
  seconds: number,
): void {
  if (!enabled) return;
  const m = METHODS.has(method) ? method : 'other';
  const cls = statusClass(status);
  const key = `${door} ${m} ${cls} ${route}`;
  let series = requestSeries.get(key);
  if (!series) {
    series = {
      labels: { door, route, method: m, status_class: cls },
      buckets: REQUEST_BUCKETS.map(() => 0),
      sum: 0,
      count: 0,
      errors: new Map(),
    };
    requestSeries.set(key, series);
  }
  let i = 0;
  while (i < REQUEST_BUCKETS.length && seconds > REQUEST_BUCKETS[i]) i++;
  if (i < REQUEST_BUCKETS.length) series.buckets[i]++;
  series.sum += seconds;
  series.count++;
  series.errors.set(error, (series.errors.get(error) ?? 0) + 1);
}

export function recordTokenIssued(grantType: string): void {
  if (enabled) tokensIssued.inc({ grant_type: grantType });
}

export function recordReplay(kind: 'refresh_token' | 'authorization_code'): void {
  if (enabled) replays.inc({ kind });
}

export function recordLogin(outcome: 'success' | 'failure' | 'locked' | 'busy'): void {
  if (enabled) logins.inc({ outcome });
}

export function recordBatch(batch: string, size: number): void {
  if (enabled) batchSizes.observe({ batch }, size);
}

export function recordCleanup(counts: Readonly<Record<string, number>>): void {
  if (!enabled) return;
  for (const [table, n] of Object.entries(counts)) if (n > 0) cleanupDeleted.inc({ table }, n);
}

export function recordBackchannelLogout(
  outcome: 'delivered' | 'failed' | 'given_up' | 'dropped',
  n = 1,
): void {
  if (enabled && n > 0) backchannelLogouts.inc({ outcome }, n);
}

const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_OPERATION_NAMES = 100;
const operationNames = new Set<string>();

/**
 * Operation names come from the caller: the first 100 well-formed ones become labels, later
 * ones count as `other`, so a client inventing names cannot grow the series without bound.
 */
export function operationLabel(name: string | null | undefined): string {
  if (!name) return 'anonymous';
  if (operationNames.has(name)) return name;
  if (!OPERATION_NAME.test(name) || operationNames.size >= MAX_OPERATION_NAMES) return 'other';
  operationNames.add(name);
  return name;
}

export function recordGraphqlOperation(name: string | null | undefined, type: string, code: string): void {
  if (enabled) graphqlOperations.inc({ operation: operationLabel(name), type, code });
}

/** The Prometheus text exposition (format 0.0.4) and its content type. */
export async function exposition(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
