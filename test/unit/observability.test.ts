import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { createLogger, moduleLog } from '../../src/log.js';
import { operationLabel, statusClass } from '../../src/observability/metrics.js';
import { requestedExporter } from '../../src/observability/tracing.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, stream };
}

describe('LOG_LEVELS', () => {
  it('README Configuration: LOG_LEVELS sets one module below or above LOG_LEVEL; other lines keep LOG_LEVEL', () => {
    const config = loadConfig({ LOG_LEVEL: 'info', LOG_LEVELS: 'access=warn, db=debug' });
    expect(config.logLevels).toEqual({ access: 'warn', db: 'debug' });
    const { lines, stream } = capture();
    const log = createLogger(config.logLevel, stream, config.logLevels);
    moduleLog(log, 'access').info('request');
    moduleLog(log, 'access').error('failed request');
    moduleLog(log, 'db').debug('listen connection failed');
    moduleLog(log, 'cleanup').debug('hidden');
    moduleLog(log, 'cleanup').info('expired rows deleted');
    log.debug('hidden too');
    log.info('listening');
    expect(lines.map((l) => [l.module ?? '-', l.msg])).toEqual([
      ['access', 'failed request'],
      ['db', 'listen connection failed'],
      ['cleanup', 'expired rows deleted'],
      ['-', 'listening'],
    ]);
  });

  it('README Configuration: an unknown module or level stops the start with one line naming LOG_LEVELS', () => {
    expect(() => loadConfig({ LOG_LEVELS: 'everything=debug' })).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_LEVELS: 'db=loud' })).toThrow(/LOG_LEVELS must be module=level pairs/);
    expect(loadConfig({}).logLevels).toEqual({});
  });
});

describe('tracing switch', () => {
  it('OpenTelemetry SDK environment variables: traces are on only when an OTLP endpoint or a traces exporter is named; OTEL_SDK_DISABLED and "none" win', () => {
    expect(requestedExporter({})).toBeUndefined();
    expect(requestedExporter({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toBeUndefined();
    expect(requestedExporter({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe('otlp');
    expect(requestedExporter({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toBe('otlp');
    expect(requestedExporter({ OTEL_TRACES_EXPORTER: 'console' })).toBe('console');
    expect(requestedExporter({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' })).toBe(
      undefined,
    );
    expect(requestedExporter({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBeUndefined();
  });
});

describe('metric labels', () => {
  it('label cardinality is bounded: status classes, and GraphQL operation names capped at 100 well-formed names', () => {
    expect([101, 200, 302, 404, 503, 999].map(statusClass)).toEqual([
      '1xx',
      '2xx',
      '3xx',
      '4xx',
      '5xx',
      'other',
    ]);
    expect(operationLabel(undefined)).toBe('anonymous');
    expect(operationLabel('has spaces')).toBe('other');
    expect(operationLabel('x'.repeat(65))).toBe('other');
    const seen = new Set(Array.from({ length: 150 }, (_, i) => operationLabel(`Op${i}`)));
    expect(seen.size).toBeLessThanOrEqual(101);
    expect(seen).toContain('other');
    expect(operationLabel('Op0')).toBe('Op0');
  });
});
