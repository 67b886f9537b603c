import type { ProtocolRequest, ProtocolResponse } from '../oauth/protocol-io.js';
import { DATABASE_RETRY_AFTER_SECONDS } from './errors.js';

/** GET /healthz: liveness plus database readiness: 200 when a trivial query answers within 2 s, else 503. */
export async function healthEndpoint(req: ProtocolRequest, res: ProtocolResponse): Promise<void> {
  const { runtime } = req.ctx;
  const started = Date.now();
  let database: 'ok' | 'unavailable' = 'ok';
  try {
    await withTimeout(runtime.db.sql.query('select 1 as ok'), 2000);
  } catch {
    database = 'unavailable';
  }
  res.set('Cache-Control', 'no-store');
  // Readiness is "did a trivial query answer in time", not an error classification: any failure
  // or timeout is unavailable, with the same Retry-After the other doors give for an outage.
  if (database !== 'ok') res.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
  res.json(
    {
      status: database === 'ok' ? 'ok' : 'unavailable',
      database,
      databaseKind: runtime.db.kind,
      ms: Date.now() - started,
    },
    database === 'ok' ? 200 : 503,
  );
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
