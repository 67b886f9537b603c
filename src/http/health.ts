import { Router } from 'express';
import type { Runtime } from '../services/context.js';

/** Liveness plus database readiness: 200 when a trivial query answers within 2 s, else 503. */
export function healthRouter(runtime: Runtime): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    const started = Date.now();
    let database: 'ok' | 'unavailable' = 'ok';
    try {
      await withTimeout(runtime.db.sql.query('select 1 as ok'), 2000);
    } catch {
      database = 'unavailable';
    }
    res
      .status(database === 'ok' ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({
        status: database === 'ok' ? 'ok' : 'unavailable',
        database,
        databaseKind: runtime.db.kind,
        ms: Date.now() - started,
      });
  });
  return router;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
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
