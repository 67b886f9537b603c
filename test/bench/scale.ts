/**
 * `npm run bench:scale [-- --rows N --expired N --seconds S]`: does a large token table slow the
 * hot paths, and does cleanup disturb them?
 *
 * 1. client_credentials and introspection rates on a fresh database;
 * 2. the same after N live rows (default 5,000,000) were added to access_tokens;
 * 3. client_credentials alone, then again while `npm run cli -- clear-tokens` deletes M expired
 *    rows (default 1,000,000) in bounded batches.
 * Prints each rate and the ratios (targets: ≥ 0.90 after growth, ≥ 0.80 during cleanup).
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { urlFor } from '../helpers/pg.js';
import { ROOT } from '../helpers/process.js';
import { startBench } from './provision.js';
import { type Driver, type Measurement, scenarios } from './scenarios.js';

const CONNECTIONS = 32;

/** The median of three runs of a third of `seconds` each: this machine's noise is large. */
async function measure(driver: Driver, seconds: number): Promise<Measurement> {
  const runs: Measurement[] = [];
  for (let i = 0; i < 3; i++)
    runs.push(
      await driver.run(Math.max(2, Math.round(seconds / 3)), { connections: CONNECTIONS, flowWorkers: 8 }),
    );
  runs.sort((a, b) => a.rate - b.rate);
  return runs[1];
}

function line(label: string, m: Measurement): string {
  return `${label.padEnd(44)} ${m.rate.toFixed(0).padStart(7)}/s  p50 ${m.p50} ms  p99 ${m.p99} ms  failed ${m.non2xx + m.errors}`;
}

/**
 * Adds rows in chunks of a million (one statement each), expired or live, owned by the bench
 * client. Their digests have the layout of real ones (`src/services/secrets.ts`): the issue
 * second (spread over the hour a one-hour token would have been issued in), then 32 hash bytes.
 */
async function addTokens(db: pg.Client, count: number, expired: boolean): Promise<number> {
  const started = Date.now();
  const chunk = 1_000_000;
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done);
    await db.query(
      `insert into access_tokens (id, token_digest, application_id, scopes, expires_at, created_at)
       select gen_random_uuid(),
              int4send((extract(epoch from now() + $2::interval - interval '1 hour')::int - g % 3600)::int) || sha256(convert_to($3 || g::text, 'UTF8')),
              (select id from applications order by created_at limit 1),
              '{read}', now() + $2::interval, now()
         from generate_series(1, $1::int) g`,
      [n, expired ? '-1 hour' : '1 hour', `scale-${expired ? 'x' : 'l'}-${done}-`],
    );
    process.stdout.write(
      `  ${expired ? 'expired' : 'live'} rows: ${done + n} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`,
    );
  }
  // What a running system would have done by now: vacuum, statistics, a checkpoint. Measuring
  // right after a bulk load would measure the autovacuum of the new rows instead.
  await db.query('vacuum (analyze) access_tokens');
  await db.query('checkpoint');
  return (Date.now() - started) / 1000;
}

function clearTokens(databaseUrl: string, args: string[]): Promise<{ seconds: number; output: string }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'clear-tokens', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.on('exit', (code) =>
      code === 0
        ? resolve({ seconds: (Date.now() - started) / 1000, output: output.trim() })
        : reject(new Error(`clear-tokens exited ${code}`)),
    );
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '5000000' },
      expired: { type: 'string', default: '1000000' },
      seconds: { type: 'string', default: '10' },
      'clear-args': { type: 'string', default: '' },
      'database-url': { type: 'string' },
    },
  });
  const rows = Number(values.rows);
  const expired = Number(values.expired);
  const seconds = Number(values.seconds);
  const bench = await startBench({ databaseUrl: values['database-url'] });
  const databaseUrl = urlFor(bench.database.name);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const byName = (name: string) => scenarios.find((s) => s.name === name)!;
    const cc = await byName('cc').prepare(bench.env);
    const introspect = await byName('introspect').prepare(bench.env);
    await measure(cc, 3); // warm-up
    const ccBefore = await measure(cc, seconds);
    const inBefore = await measure(introspect, seconds);
    console.log(line('client_credentials, fresh table', ccBefore));
    console.log(line('introspection, fresh table', inBefore));

    console.log(`adding ${rows} live tokens…`);
    const took = rows > 0 ? await addTokens(db, rows, false) : 0;
    console.log(`  added in ${took.toFixed(0)} s`);
    // Warm up as on a running system: the first writes after a checkpoint log whole pages.
    await measure(cc, 10);
    const ccAfter = rows > 0 ? await measure(cc, seconds) : ccBefore;
    const inAfter = rows > 0 ? await measure(introspect, seconds) : inBefore;
    console.log(line(`client_credentials, +${rows} rows`, ccAfter));
    console.log(line(`introspection, +${rows} rows`, inAfter));

    console.log(`adding ${expired} expired tokens…`);
    await addTokens(db, expired, true);
    const ccAlone = await measure(cc, seconds);
    console.log(line('client_credentials, before cleanup', ccAlone));
    const cleanup = clearTokens(databaseUrl, values['clear-args'].split(' ').filter(Boolean));
    const ccDuring = await measure(cc, seconds);
    const done = await cleanup;
    console.log(line('client_credentials, during clear-tokens', ccDuring));
    console.log(`clear-tokens: ${done.seconds.toFixed(1)} s, ${done.output}`);
    const left = await db.query<{ n: number }>(
      'select count(*)::int as n from access_tokens where expires_at < now()',
    );
    console.log(`expired rows left: ${left.rows[0].n}`);

    const ratio = (a: Measurement, b: Measurement) => (a.rate / b.rate).toFixed(2);
    console.log(
      `summary: cc ${ratio(ccAfter, ccBefore)}x and introspection ${ratio(inAfter, inBefore)}x after +${rows} rows (target ≥ 0.90); ` +
        `cc ${ratio(ccDuring, ccAlone)}x during the cleanup of ${expired} rows (target ≥ 0.80)`,
    );
  } finally {
    await db.end();
    await bench.close();
  }
}

await main();
