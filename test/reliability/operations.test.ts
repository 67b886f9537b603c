import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic } from '../helpers/http.js';
import { remember } from '../helpers/ledger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { runCli, SERVER_START_MS, type Spawned, spawnProcess, waitForHealthy } from '../helpers/process.js';
import { scrape, sumOf } from '../helpers/prometheus.js';

/**
 * The real server process (`node src/main.ts`, as production runs it but through tsx) with
 * tracing on (OTLP/HTTP JSON to a receiver in this test), metrics on and a drain delay: traces
 * of real requests carry the caller's trace id and a SQL child span; SIGTERM turns /readyz to 503
 * while the listener still serves, then the process exits.
 */

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>;
}

const received: Array<{ service: string; span: OtlpSpan }> = [];
let receiver: http.Server;
let receiverUrl: string;
let database: TestDatabase;
let server: Spawned;
let base: string;
let metricsUrl: string;
let client: { clientId: string; clientSecret: string };

/** An OTLP/HTTP receiver (OTLP specification, "OTLP/HTTP"): POST /v1/traces, JSON encoding. */
function startReceiver(): Promise<void> {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (
        req.method !== 'POST' ||
        req.url !== '/v1/traces' ||
        !/json/.test(req.headers['content-type'] ?? '')
      ) {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: Array<{
          resource: { attributes: OtlpSpan['attributes'] };
          scopeSpans: Array<{ spans: OtlpSpan[] }>;
        }>;
      };
      for (const rs of body.resourceSpans) {
        const service = attr(rs.resource.attributes, 'service.name') ?? '';
        for (const ss of rs.scopeSpans) for (const span of ss.spans) received.push({ service, span });
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) =>
    receiver.listen(0, '127.0.0.1', () => {
      receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
      resolve();
    }),
  );
}

function attr(attributes: OtlpSpan['attributes'], key: string): string | undefined {
  const value = attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : String(value.intValue));
}

async function spansOf(traceId: string, until: (spans: OtlpSpan[]) => boolean): Promise<OtlpSpan[]> {
  const deadline = Date.now() + 20_000;
  let spans: OtlpSpan[] = [];
  while (Date.now() < deadline) {
    spans = received.filter((r) => r.span.traceId === traceId).map((r) => r.span);
    if (until(spans)) return spans;
    await new Promise((r) => setTimeout(r, 100));
  }
  return spans;
}

beforeAll(async () => {
  await startReceiver();
  database = await createTestDatabase();
  const env = { DATABASE_URL: database.url };
  const user = await runCli(['create-user', '--username', 'tracy', '--password', 'tracy-password'], env);
  expect(user.code, user.stderr).toBe(0);
  const app = await runCli(
    [
      'create-application',
      '--owner',
      'tracy',
      '--name',
      'traced',
      '--client-type',
      'confidential',
      '--grant-types',
      'client_credentials,password',
      '--scopes',
      'read',
    ],
    env,
  );
  expect(app.code, app.stderr).toBe(0);
  const parsed = JSON.parse(app.stdout) as { client_id: string; client_secret: string };
  client = { clientId: parsed.client_id, clientSecret: parsed.client_secret };
  remember('client_secret', client.clientSecret);
  remember('password', 'tracy-password');
  const port = await freePort();
  const metricsPort = await freePort();
  base = `http://127.0.0.1:${port}`;
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  server = spawnProcess('node', ['--import', 'tsx', 'src/main.ts'], {
    ...env,
    PORT: String(port),
    ISSUER: base,
    LOG_LEVEL: 'info',
    CLEANUP_INTERVAL: '0',
    METRICS_PORT: String(metricsPort),
    SHUTDOWN_DRAIN_SECONDS: '3',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl,
    OTEL_SERVICE_NAME: 'latchkey-under-test',
    OTEL_BSP_SCHEDULE_DELAY: '100',
  });
  expect(await waitForHealthy(`${base}/healthz`, SERVER_START_MS, server), server.output()).toBe(200);
}, SERVER_START_MS + 60_000);

afterAll(async () => {
  await server?.stop('SIGKILL');
  // The leak test reads every server log of the run: this process's output is one of them.
  fs.mkdirSync('test-output/logs', { recursive: true });
  fs.writeFileSync(
    path.join('test-output/logs', `operations-${process.pid}-${Date.now()}.log`),
    server.output(),
  );
  await new Promise((r) => receiver?.close(r));
  await database?.drop();
});

const token = (form: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${base}/o/token/`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: basic(client.clientId, client.clientSecret),
      ...headers,
    },
    body: new URLSearchParams(form),
  });

describe.sequential('the server process: traces, metrics, drain', () => {
  it("W3C Trace Context §3.2: a token request with the caller's traceparent is exported (OTLP/HTTP) as a SERVER span of the caller's trace, parented on the caller's span, named by its route, with a SQL child span", async () => {
    const traceId = randomBytes(16).toString('hex');
    const parentId = randomBytes(8).toString('hex');
    const res = await token(
      { grant_type: 'client_credentials' },
      { traceparent: `00-${traceId}-${parentId}-01` },
    );
    expect(res.status).toBe(200);
    remember('access_token', ((await res.json()) as { access_token: string }).access_token);
    const spans = await spansOf(traceId, (s) => s.some((x) => x.kind === 2) && s.some((x) => x.kind === 3));
    const root = spans.find((s) => s.kind === 2); // SPAN_KIND_SERVER
    expect(root, JSON.stringify(spans)).toBeDefined();
    expect(root!.name).toBe('POST /o/token/');
    expect(root!.parentSpanId).toBe(parentId);
    expect(attr(root!.attributes, 'http.route')).toBe('/o/token/');
    expect(attr(root!.attributes, 'http.response.status_code')).toBe('200');
    const sql = spans.filter((s) => s.kind === 3 && attr(s.attributes, 'db.system.name') === 'postgresql');
    expect(sql.length).toBeGreaterThanOrEqual(1);
    expect(sql.some((s) => s.parentSpanId === root!.spanId)).toBe(true);
    expect(sql.every((s) => !/lk_at_/.test(attr(s.attributes, 'db.query.text') ?? ''))).toBe(true);
    expect(received.find((r) => r.span.traceId === traceId)?.service).toBe('latchkey-under-test');
  });

  it('OpenTelemetry tracing: the password grant traces its argon2 verification as a child of the request; a page request (Express door) is traced too; W3C Trace Context §4.1: a request without traceparent starts a new trace', async () => {
    const traceId = randomBytes(16).toString('hex');
    const res = await token(
      { grant_type: 'password', username: 'tracy', password: 'tracy-password' },
      { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    );
    expect(res.status).toBe(200);
    remember('access_token', ((await res.json()) as { access_token: string }).access_token);
    const spans = await spansOf(
      traceId,
      (s) => s.some((x) => x.name === 'argon2.verify') && s.some((x) => x.kind === 2),
    );
    const root = spans.find((s) => s.kind === 2)!;
    expect(spans.find((s) => s.name === 'argon2.verify')?.parentSpanId).toBe(root.spanId);

    const pageTrace = randomBytes(16).toString('hex');
    const page = await fetch(`${base}/accounts/login/`, {
      headers: { traceparent: `00-${pageTrace}-${randomBytes(8).toString('hex')}-01` },
    });
    expect(page.status).toBe(200);
    const pageSpans = await spansOf(pageTrace, (s) => s.some((x) => x.kind === 2));
    expect(pageSpans.find((s) => s.kind === 2)?.name).toBe('GET /accounts/login/');

    const before = new Set(received.map((r) => r.span.traceId));
    expect((await fetch(`${base}/o/jwks/`)).status).toBe(200);
    const fresh = await new Promise<OtlpSpan | undefined>((resolve) => {
      const t = setInterval(() => {
        const s = received.find((r) => !before.has(r.span.traceId) && r.span.name === 'GET /o/jwks/');
        if (s) {
          clearInterval(t);
          resolve(s.span);
        }
      }, 100);
      setTimeout(() => {
        clearInterval(t);
        resolve(undefined);
      }, 20_000);
    });
    expect(fresh).toBeDefined();
    expect(fresh!.parentSpanId ?? '').toBe('');
  });

  it('Prometheus text format: the process serves /metrics on METRICS_PORT with the requests above counted; the public port has no /metrics', async () => {
    const samples = await scrape(metricsUrl);
    expect(sumOf(samples, 'latchkey_tokens_issued_total', { grant_type: 'client_credentials' })).toBe(1);
    expect(sumOf(samples, 'latchkey_tokens_issued_total', { grant_type: 'password' })).toBe(1);
    expect(sumOf(samples, 'latchkey_login_attempts_total', { outcome: 'success' })).toBe(1);
    expect(sumOf(samples, 'latchkey_draining')).toBe(0);
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
  });

  it('graceful shutdown (Kubernetes pod termination): after SIGTERM /readyz answers 503 while the listener still serves requests for SHUTDOWN_DRAIN_SECONDS; then the process exits 0', async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    process.kill(-server.child.pid!, 'SIGTERM');
    let ready = 200;
    for (let i = 0; i < 50 && ready === 200; i++) {
      ready = (await fetch(`${base}/readyz`)).status;
      if (ready === 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(ready).toBe(503);
    const draining = await fetch(`${base}/readyz`);
    expect(await draining.json()).toMatchObject({ status: 'draining', draining: true });
    // The listener is open: liveness and real work still answer while the load balancer drains.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const during = await token({ grant_type: 'client_credentials' });
    expect(during.status).toBe(200);
    remember('access_token', ((await during.json()) as { access_token: string }).access_token);
    expect(sumOf(await scrape(metricsUrl), 'latchkey_draining')).toBe(1);
    expect(await server.exited).toBe(0);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    expect(server.output()).toContain('draining: /readyz answers 503 until the listener closes');
  });
});
