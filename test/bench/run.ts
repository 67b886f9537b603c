/**
 * `npm run bench [-- options]`: load-tests Latchkey on a fresh PostgreSQL database.
 *
 * A server runs in a child process (its own event loop) with NODE_ENV=production; the load comes
 * from autocannon (request scenarios) and from concurrent fetch-based OAuth clients (flows).
 * Server settings other than the ones set here pass through from the environment
 * (e.g. DATABASE_POOL_SIZE=20 npm run bench).
 *
 *   --duration N        seconds per scenario (default 10), after a warm-up (--warmup, default 2)
 *   --connections N     autocannon connections (default 32)
 *   --flow-workers N    concurrent flows in the flow scenarios (default 8, as the shared kit)
 *   --only a,b          scenarios to run (default all; see scenarios.ts)
 *   --database-url URL  use this database (kept) instead of a fresh one (dropped at the end)
 *   --workers N         WORKERS for the server
 *   --compare           provision, write an env file for the shared kit's compare.sh, print the
 *                       command, keep the server up until Ctrl-C
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../helpers/process.js';
import { type Bench, startBench } from './provision.js';
import { type Load, type Measurement, type Scenario, Skip, scenarios } from './scenarios.js';

interface Options {
  duration: number;
  warmup: number;
  load: Load;
  only: Scenario[];
  databaseUrl?: string;
  workers?: number;
  compare: boolean;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '32' },
      'flow-workers': { type: 'string', default: '8' },
      only: { type: 'string' },
      'database-url': { type: 'string' },
      workers: { type: 'string' },
      compare: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const count = (name: string, value: string, min: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}`);
    return n;
  };
  const names = values.only?.split(',').map((s) => s.trim()) ?? scenarios.map((s) => s.name);
  const unknown = names.filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length) {
    throw new Error(
      `unknown scenario ${unknown.join(', ')} (known: ${scenarios.map((s) => s.name).join(', ')})`,
    );
  }
  return {
    duration: count('duration', values.duration, 1),
    warmup: count('warmup', values.warmup, 0),
    load: {
      connections: count('connections', values.connections, 1),
      flowWorkers: count('flow-workers', values['flow-workers'], 1),
    },
    only: scenarios.filter((s) => names.includes(s.name)),
    databaseUrl: values['database-url'],
    workers: values.workers === undefined ? undefined : count('workers', values.workers, 1),
    compare: values.compare,
  };
}

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const WIDTHS = [11, 10, 7, 8, 8, 7, 7];
/** A table row: name and unit left-aligned, numbers right-aligned. */
const row = (...cells: string[]) =>
  cells.map((c, i) => (i === 0 || i === 2 ? c.padEnd(WIDTHS[i]) : c.padStart(WIDTHS[i]))).join(' ');

type Outcome = { scenario: Scenario } & ({ result: Measurement } | { skipped: string });

async function runScenario(bench: Bench, scenario: Scenario, opts: Options): Promise<Outcome> {
  try {
    const driver = await scenario.prepare(bench.env);
    if (opts.warmup > 0) await driver.run(opts.warmup, opts.load);
    return { scenario, result: await driver.run(opts.duration, opts.load) };
  } catch (err) {
    if (err instanceof Skip) return { scenario, skipped: err.message };
    return { scenario, skipped: `failed: ${(err as Error).message}` };
  }
}

function printOutcome(o: Outcome): void {
  if ('skipped' in o) {
    console.log(`${o.scenario.name.padEnd(WIDTHS[0])} skipped: ${o.skipped}`);
    return;
  }
  const r = o.result;
  const { name, unit } = o.scenario;
  console.log(row(name, r.rate.toFixed(1), unit, ms(r.p50), ms(r.p99), String(r.non2xx), String(r.errors)));
  if (r.note) console.log(`  note: ${r.note}`);
  if (r.sample) console.log(`  first failure: ${r.sample}`);
}

function summary(outcomes: Outcome[]): string {
  return outcomes
    .map((o) =>
      'skipped' in o
        ? `${o.scenario.name} skipped`
        : `${o.scenario.name} ${Math.round(o.result.rate)}/s p99 ${ms(o.result.p99)}ms` +
          (o.result.non2xx + o.result.errors
            ? ` (${o.result.non2xx} non-2xx, ${o.result.errors} errors)`
            : ''),
    )
    .join(' | ');
}

/** Warnings and errors the server logged (pino JSON, level ≥ 40) and any other output, counted by kind. */
function serverComplaints(logFile: string): Map<string, number> {
  const lines = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n') : [];
  const kinds = new Map<string, number>();
  for (const line of lines.filter((l) => l.trim())) {
    let kind = line.slice(0, 200);
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      if ((entry.level ?? 0) < 40) continue;
      kind = `${entry.level === 40 ? 'warn' : 'error'} "${entry.msg ?? ''}"${entry.err?.message ? `: ${entry.err.message}` : ''}`;
    } catch {
      // not JSON: a crash or a stray print, shown as is
    }
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return kinds;
}

function writeCompareEnv(bench: Bench): string {
  const { env } = bench;
  const vars: Record<string, string> = {
    BASE_URL: env.baseUrl,
    BASELINE_URL: `${env.baseUrl}/.well-known/openid-configuration`,
    CLIENT_ID: env.cc.clientId,
    CLIENT_SECRET: env.cc.clientSecret,
    FLOW_CLIENT_ID: env.flow.client.clientId,
    FLOW_CLIENT_SECRET: env.flow.client.clientSecret,
    FLOW_REDIRECT_URI: env.flow.client.redirectUri,
    FLOW_USERNAME: env.user.username,
    FLOW_PASSWORD: env.user.password,
    FLOW_SCOPE: 'read',
  };
  const file = path.join(ROOT, 'test-output/bench/latchkey.env');
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  fs.writeFileSync(
    file,
    `${Object.entries(vars)
      .map(([k, v]) => `${k}=${quote(v)}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );
  return file;
}

/** Resolves on Ctrl-C or SIGTERM; keeps the process alive meanwhile (signal listeners do not). */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const alive = setInterval(() => {}, 60_000);
    const on = () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      clearInterval(alive);
      resolve();
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(2);
  }
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown';
  console.log(
    `machine: nproc=${os.availableParallelism()} cpu="${cpu}" node=${process.version} ` +
      `loadavg=${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  let bench: Bench;
  try {
    bench = await startBench({ databaseUrl: opts.databaseUrl, workers: opts.workers });
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  }
  const { name, dropped } = bench.database;
  console.log(
    `server: ${bench.env.baseUrl}${opts.workers ? ` WORKERS=${opts.workers}` : ''}, ` +
      `PostgreSQL ${bench.postgresVersion} database ${name} (${dropped ? 'dropped at the end' : 'kept'}), ` +
      `log ${path.relative(ROOT, bench.logFile)}`,
  );

  if (opts.compare) {
    const file = writeCompareEnv(bench);
    const kit = path.resolve(ROOT, '../shared/bench/compare.sh');
    const script = fs.existsSync(kit) ? kit : 'compare.sh';
    console.log(`env file: ${file}\nrun, in another terminal (needs wrk):`);
    console.log(
      `  DURATION=${opts.duration} CONNS=${opts.load.connections} FLOW_CONCURRENCY=${opts.load.flowWorkers} ${script} ${file}`,
    );
    console.log('the server stays up; Ctrl-C stops it and drops the database');
    const code = await Promise.race([untilSignal().then(() => 0), bench.serverGone.then(() => 1)]);
    await bench.close();
    process.exit(code);
  }

  let interrupted = false;
  untilSignal().then(async () => {
    interrupted = true;
    console.log('\ninterrupted: stopping the server');
    await bench.close();
    process.exit(130);
  });
  console.log(
    `load: ${opts.duration} s per scenario after ${opts.warmup} s warm-up, ` +
      `${opts.load.connections} connections (autocannon), ${opts.load.flowWorkers} flow workers (node:http)`,
  );
  console.log(row('scenario', 'rate', 'unit', 'p50_ms', 'p99_ms', 'non2xx', 'errors'));
  const outcomes: Outcome[] = [];
  let serverGone = false;
  void bench.serverGone.then(() => {
    serverGone = true;
  });
  for (const scenario of opts.only) {
    if (interrupted || serverGone) break;
    const outcome = await runScenario(bench, scenario, opts);
    printOutcome(outcome);
    outcomes.push(outcome);
  }
  await bench.close(); // first: the server's shutdown may log too
  const complaints = serverComplaints(bench.logFile);
  if (complaints.size) {
    console.log(`server log ${path.relative(ROOT, bench.logFile)}:`);
    for (const [kind, n] of complaints) console.log(`  ${n}× ${kind}`);
  }
  console.log(`summary: ${summary(outcomes)}`);
  process.exit(0);
}

await main();
