import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  type Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';

/**
 * OpenTelemetry traces, on only when the standard variables ask for them
 * (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_TRACES_EXPORTER`;
 * `OTEL_SDK_DISABLED=true` wins). The SDK and the exporter are imported only then, so a server
 * without them loads nothing and every helper here returns at its first line.
 *
 * The spans are made here by hand rather than by auto-instrumentation: the server is ESM (tsx in
 * tests, compiled in production), where patching `http` and `pg` needs a loader hook registered
 * before they are imported; one span per request at the single `http` handler (both doors), one
 * per native SQL statement (src/db/sql.ts) and one per argon2 computation are explicit and cost
 * a branch when off.
 */
let tracer: Tracer | undefined;
const serverSpans = new WeakMap<ServerResponse, Span>();

type Env = Readonly<Record<string, string | undefined>>;

/** Which exporter the environment asks for, or undefined: tracing off. */
export function requestedExporter(env: Env): 'otlp' | 'console' | undefined {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return undefined;
  const named = (env.OTEL_TRACES_EXPORTER ?? '').split(',')[0].trim().toLowerCase();
  if (named === 'none') return undefined;
  if (named === 'console') return 'console';
  if (named === 'otlp') return 'otlp';
  return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? 'otlp' : undefined;
}

export interface Tracing {
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * Starts the SDK when the environment asks for it: OTLP over HTTP (JSON) to
 * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, batched (`OTEL_BSP_*`), sampled by
 * `OTEL_TRACES_SAMPLER` (default parentbased_always_on: a caller's sampled `traceparent` is
 * followed), `service.name` from `OTEL_SERVICE_NAME` (default `latchkey`), W3C Trace Context and
 * Baggage propagation. Call before the server starts.
 */
export async function startTracing(env: Env = process.env): Promise<Tracing | undefined> {
  const exporterKind = requestedExporter(env);
  if (!exporterKind || tracer) return undefined;
  const [node, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
  ]);
  const exporter =
    exporterKind === 'console'
      ? new node.ConsoleSpanExporter()
      : new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': 'latchkey' }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new node.NodeTracerProvider({
    resource,
    spanProcessors: [new node.BatchSpanProcessor(exporter)],
  });
  // The AsyncLocalStorage context manager and the W3C propagators (OTEL_PROPAGATORS).
  provider.register();
  tracer = trace.getTracer('latchkey');
  return {
    async shutdown() {
      tracer = undefined;
      await provider.shutdown();
    },
  };
}

/**
 * The server's request listener, with a SERVER span around each request when tracing is on: the
 * caller's `traceparent` is its parent (W3C Trace Context §3.2), and the span is the active
 * context of everything the request does. Off: the listener itself, untouched.
 */
export function traced(listener: RequestListener): RequestListener {
  if (!tracer) return listener;
  const t = tracer;
  return (req: IncomingMessage, res: ServerResponse) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const method = req.method ?? 'GET';
    const span = t.startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': method,
          // The path only: a query string can carry credentials.
          'url.path': (req.url ?? '/').split('?')[0].slice(0, 512),
          'url.scheme': 'http',
        },
      },
      parent,
    );
    serverSpans.set(res, span);
    res.once('close', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), () => listener(req, res));
  };
}

/**
 * Names the request's span after its route template (`POST /o/token/`), once the door knows it;
 * returns its trace id for the access log line (undefined when tracing is off).
 */
export function nameServerSpan(
  res: ServerResponse,
  method: string,
  route: string,
  error?: string,
): string | undefined {
  if (!tracer) return undefined;
  const span = serverSpans.get(res);
  if (!span) return undefined;
  span.updateName(`${method} ${route}`);
  span.setAttribute('http.route', route);
  if (error) span.setAttribute('error.type', error);
  return span.spanContext().traceId;
}

/**
 * Runs `fn` in a child span of the active one (none without a parent: background work such as
 * the cleanup would otherwise start a trace per statement).
 */
export function inSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  return spanned(name, SpanKind.INTERNAL, attributes, fn);
}

/** A CLIENT span for one SQL statement: the statement text (parameters are never recorded). */
export function sqlSpan<T>(text: string, fn: () => Promise<T>): Promise<T> {
  if (!tracer) return fn();
  const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'SQL';
  return spanned(
    operation,
    SpanKind.CLIENT,
    {
      'db.system.name': 'postgresql',
      'db.operation.name': operation,
      'db.query.text': text.length > 2000 ? `${text.slice(0, 2000)}…` : text,
    },
    fn,
  );
}

function spanned<T>(name: string, kind: SpanKind, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!tracer || !trace.getSpan(context.active())) return fn();
  return tracer.startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).name });
      throw err;
    } finally {
      span.end();
    }
  });
}
