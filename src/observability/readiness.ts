import { migrationsList } from '../../migrations/index.js';
import { DATABASE_RETRY_AFTER_SECONDS } from '../http/errors.js';
import { withTimeout } from '../http/health.js';
import type { ProtocolRequest, ProtocolResponse } from '../oauth/protocol-io.js';
import type { Runtime } from '../services/context.js';
import { SIGNING_ALGS } from '../vocabulary.js';

type Check = 'ok' | 'unavailable' | 'pending' | 'missing';

export interface ReadyReport {
  ready: boolean;
  draining: boolean;
  database: Check;
  migrations: Check;
  keys: Check;
}

/**
 * Is this instance ready for traffic: the database answers, every migration this code knows is
 * applied, every signing key is loaded, and it is not draining. A load balancer polls /readyz and
 * stops sending on a 503, so SIGTERM turns it to 503 first and closes the listener only
 * SHUTDOWN_DRAIN_SECONDS later (src/server.ts), while requests in flight and those already on
 * their way are still served.
 */
export class Readiness {
  private draining = false;
  /** Migrations once applied stay applied: checked until they are current, then no more. */
  private migrationsCurrent = false;

  constructor(private readonly runtime: Pick<Runtime, 'db' | 'keyStore'>) {}

  /** From now on /readyz answers 503. */
  drain(): void {
    this.draining = true;
  }

  isDraining(): boolean {
    return this.draining;
  }

  async check(): Promise<ReadyReport> {
    const keys: Check = SIGNING_ALGS.every((alg) => this.hasKey(alg)) ? 'ok' : 'missing';
    let database: Check = 'ok';
    let migrations: Check = this.migrationsCurrent ? 'ok' : 'pending';
    try {
      if (this.migrationsCurrent) {
        await withTimeout(this.runtime.db.sql.query('select 1 as ok'), 2000);
      } else {
        const rows = await withTimeout(
          this.runtime.db.sql.query<{ name: string }>('select name from mikro_orm_migrations'),
          2000,
        );
        const applied = new Set(rows.map((r) => r.name.replace(/\.[jt]s$/, '')));
        this.migrationsCurrent = migrationsList.every((m) => applied.has(m.name));
        migrations = this.migrationsCurrent ? 'ok' : 'pending';
      }
    } catch {
      database = 'unavailable';
    }
    const ready = !this.draining && database === 'ok' && migrations === 'ok' && keys === 'ok';
    return { ready, draining: this.draining, database, migrations, keys };
  }

  private hasKey(alg: (typeof SIGNING_ALGS)[number]): boolean {
    try {
      this.runtime.keyStore.signer(alg);
      return true;
    } catch {
      return false;
    }
  }
}

/** GET /readyz: 200 when ready; 503 with Retry-After (draining, database, migrations, keys). */
export async function readyEndpoint(req: ProtocolRequest, res: ProtocolResponse): Promise<void> {
  const report = await req.ctx.runtime.readiness.check();
  res.set('Cache-Control', 'no-store');
  if (!report.ready) res.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
  const { ready, ...checks } = report;
  res.json(
    { status: ready ? 'ready' : report.draining ? 'draining' : 'unavailable', ...checks },
    ready ? 200 : 503,
  );
}
