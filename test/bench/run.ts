/**
 * `npm run bench [-- options]`: load-tests Latchkey on a fresh PostgreSQL database.
 *
 * Every run first measures a bare Node `http` handler (test/bench/bare.ts) with the same load;
 * each request scenario's rate is also printed as a fraction of it (`x_bare`): the share of
 * what Node itself manages on this machine, now.
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
 *   --rounds N          rounds of each pair run together (default 3): a scenario and the one it
 *                       is measured `against` (e.g. cc-resource against cc) run interleaved,
 *                       A B A B A B, and their medians and the ratio of medians are printed
 *                       cc-metrics runs against a second server process on the same database,
 *                       identical but for METRICS_PORT: the price of recording metrics
 *   --database-url URL  use this database (kept) instead of a fresh one (dropped at the end)
 *   --workers N         WORKERS for the server
 *   --cpu-prof DIR      run the server under `node --cpu-prof --perf-basic-prof`: its .cpuprofile
 *                       lands in DIR when the bench stops it (Chrome DevTools, speedscope), and
 *                       `perf record -e cpu-clock -g -p <pid>` names its JavaScript frames
 *   --reference         also start the shared kit's reference server (node-oidc-provider, in
 *                       memory) and run every selected scenario that has a twin there
 *                       (baseline, cc, introspect, refresh-chain, cc-dpop, cc-jwt, userinfo)
 *                       interleaved with it: the ratio printed is Latchkey / reference
 *   --compare           provision, write an env file for the shared kit's compare.sh, print the
 *                       command, keep the server up until Ctrl-C
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../helpers/process.js';
import { startBare } from './bare.js';
import { cpuSeconds } from './cpu.js';
import { type Bench, REGISTRATION_SETTINGS, startBench } from './provision.js';
import { type ReferenceEnv, referenceAvailable, startReference } from './reference.js';
import {
  bareDriver,
  type Driver,
  type Load,
  type Measurement,
  type Scenario,
  Skip,
  scenarios,
} from './scenarios.js';

/** The bare handler's rate in this run (req/s): each request scenario is printed as a share of it. */
let bareRate: number | undefined;

interface Options {
  duration: number;
  warmup: number;
  load: Load;
  only: Scenario[];
  rounds: number;
  databaseUrl?: string;
  workers?: number;
  compare: boolean;
  cpuProfDir?: string;
  reference: boolean;
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
      rounds: { type: 'string', default: '3' },
      'database-url': { type: 'string' },
      workers: { type: 'string' },
      compare: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      reference: { type: 'boolean', default: false },
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
    rounds: count('rounds', values.rounds, 1),
    databaseUrl: values['database-url'],
    workers: values.workers === undefined ? undefined : count('workers', values.workers, 1),
    compare: values.compare,
    cpuProfDir: values['cpu-prof'],
    reference: values.reference,
  };
}

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const WIDTHS = [22, 10, 7, 8, 8, 7, 7];
/** A table row: name and unit left-aligned, numbers right-aligned. */
const row = (...cells: string[]) =>
  cells.map((c, i) => (i === 0 || i === 2 ? c.padEnd(WIDTHS[i]) : c.padStart(WIDTHS[i]))).join(' ');

type Outcome = { scenario: Scenario } & ({ result: Measurement } | { skipped: string });

function skipped(scenario: Scenario, err: unknown): Outcome {
  if (err instanceof Skip) return { scenario, skipped: err.message };
  return { scenario, skipped: `failed: ${(err as Error).message}` };
}

async function prepare(bench: Bench, scenario: Scenario, opts: Options): Promise<Driver | Outcome> {
  try {
    const driver = await scenario.prepare(bench.env);
    if (opts.warmup > 0) await driver.run(opts.warmup, opts.load);
    return driver;
  } catch (err) {
    return skipped(scenario, err);
  }
}

async function measure(bench: Bench, scenario: Scenario, driver: Driver, opts: Options): Promise<Outcome> {
  try {
    const pid = driver.serverPid ?? bench.serverPid;
    const before = cpuSeconds(pid);
    const result = await driver.run(opts.duration, opts.load);
    const after = cpuSeconds(pid);
    const served = result.rate * result.seconds;
    if (before !== null && after !== null && served > 0) result.cpuUs = ((after - before) * 1e6) / served;
    return { scenario, result };
  } catch (err) {
    return skipped(scenario, err);
  }
}

async function runScenario(bench: Bench, scenario: Scenario, opts: Options): Promise<Outcome> {
  const driver = await prepare(bench, scenario, opts);
  return 'run' in driver ? measure(bench, scenario, driver, opts) : driver;
}

/** Each field's median over the rounds (failures summed); notes and samples of any round. */
function medianOf(results: Measurement[]): Measurement {
  const med = (pick: (m: Measurement) => number) => median(results.map(pick));
  const sum = (pick: (m: Measurement) => number) => results.reduce((n, m) => n + pick(m), 0);
  return {
    rate: med((m) => m.rate),
    p50: med((m) => m.p50),
    p99: med((m) => m.p99),
    non2xx: sum((m) => m.non2xx),
    errors: sum((m) => m.errors),
    seconds: sum((m) => m.seconds),
    sample: results.find((m) => m.sample)?.sample,
    cpuUs: results.every((m) => m.cpuUs !== undefined) ? med((m) => m.cpuUs ?? 0) : undefined,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * A scenario and the one it is measured against, interleaved for `rounds` rounds (base first in
 * each), so that both see the same machine: on a shared 2-core box the load of other processes
 * drifts by more than the differences measured. Prints each round, the medians and the ratio of
 * medians (with each round's ratio in brackets); returns the medians.
 */
async function runPair(bench: Bench, base: Scenario, other: Scenario, opts: Options): Promise<Outcome[]> {
  const drivers: Array<Driver | Outcome> = [];
  for (const s of [base, other]) drivers.push(await prepare(bench, s, opts));
  const [a, b] = drivers;
  if (!('run' in a) || !('run' in b)) {
    return [base, other].map((s, i) => {
      const d = drivers[i];
      return 'run' in d ? { scenario: s, skipped: `its pair ${[base, other][1 - i].name} was skipped` } : d;
    });
  }
  const rounds: Measurement[][] = [[], []];
  for (let r = 1; r <= opts.rounds; r++) {
    for (const [i, s] of [base, other].entries()) {
      const o = await measure(bench, s, i === 0 ? a : b, opts);
      if ('skipped' in o)
        return [o, { scenario: [base, other][1 - i], skipped: `its pair ${s.name} failed` }];
      printOutcome(o, `${s.name} ${r}/${opts.rounds}`);
      rounds[i].push(o.result);
    }
  }
  const medians = rounds.map(medianOf);
  const outcomes: Outcome[] = [
    { scenario: base, result: medians[0] },
    { scenario: other, result: medians[1] },
  ];
  for (const o of outcomes) printOutcome(o, `${o.scenario.name} median`);
  const each = rounds[0].map((m, i) => (rounds[1][i].rate / m.rate).toFixed(2)).join(' ');
  console.log(
    `  ratio ${other.name}/${base.name}: ${(medians[1].rate / medians[0].rate).toFixed(3)} ` +
      `(median ${medians[1].rate.toFixed(1)} / ${medians[0].rate.toFixed(1)} ${base.unit}; rounds [${each}])`,
  );
  const [ca, cb] = [medians[0].cpuUs, medians[1].cpuUs];
  if (ca !== undefined && cb !== undefined) {
    console.log(
      `  server CPU per ${base.unit === 'flows/s' ? 'flow' : 'request'}: ${cb.toFixed(0)} / ${ca.toFixed(0)} µs, ratio ${(cb / ca).toFixed(3)}`,
    );
  }
  return outcomes;
}

function printOutcome(o: Outcome, label = o.scenario.name): void {
  if ('skipped' in o) {
    console.log(`${label.padEnd(WIDTHS[0])} skipped: ${o.skipped}`);
    return;
  }
  const r = o.result;
  const { unit } = o.scenario;
  const cpu = r.cpuUs === undefined ? '-' : r.cpuUs.toFixed(0);
  const share = unit === 'req/s' && bareRate ? (r.rate / bareRate).toFixed(2) : '-';
  console.log(
    `${row(label, r.rate.toFixed(1), unit, ms(r.p50), ms(r.p99), String(r.non2xx), String(r.errors))} ${cpu.padStart(7)} ${share.padStart(6)}`,
  );
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
    bench = await startBench({
      databaseUrl: opts.databaseUrl,
      workers: opts.workers,
      metricsTwin: opts.only.some((s) => s.name.endsWith('-metrics')),
      cpuProfDir: opts.cpuProfDir,
    });
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
  console.log(
    `registration: ${Object.entries(REGISTRATION_SETTINGS)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')} (all load comes from 127.0.0.1, one address)`,
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
  let reference: ReferenceEnv | undefined;
  untilSignal().then(async () => {
    interrupted = true;
    console.log('\ninterrupted: stopping the server');
    await reference?.stop();
    await bench.close();
    process.exit(130);
  });
  console.log(
    `load: ${opts.duration} s per scenario after ${opts.warmup} s warm-up, ` +
      `${opts.load.connections} connections (autocannon), ${opts.load.flowWorkers} flow workers (node:http)`,
  );
  const outcomes: Outcome[] = [];
  let serverGone = false;
  void bench.serverGone.then(() => {
    serverGone = true;
  });
  const selected = (name: string | undefined) => opts.only.find((s) => s.name === name);
  const hasTwin = (s: Scenario) => reference !== undefined && s.reference !== undefined;
  const paired = new Set(
    opts.only.filter((s) => !hasTwin(s) && selected(s.against)).flatMap((s) => [s.name, s.against]),
  );
  if (paired.size) {
    console.log(`pairs: ${opts.rounds} interleaved round(s) each, then medians and the ratio of medians`);
  }
  // cpu_us: the server process's CPU per request (the primary only: with --workers it is partial).
  console.log(`${row('scenario', 'rate', 'unit', 'p50_ms', 'p99_ms', 'non2xx', 'errors')}  cpu_us x_bare`);
  const bare = await startBare();
  const bareOutcome = await measure(
    bench,
    { name: 'bare node:http', unit: 'req/s', prepare: async () => bareDriver(bare) },
    { ...bareDriver(bare), serverPid: bare.pid },
    opts,
  );
  await bare.stop();
  if ('result' in bareOutcome) bareRate = bareOutcome.result.rate;
  printOutcome(bareOutcome);
  if (opts.reference) {
    if (!referenceAvailable())
      console.log('reference: the shared kit is not here (../shared/bench/reference)');
    else {
      reference = await startReference();
      console.log(`reference: node-oidc-provider at ${reference.baseUrl} (in memory), pid ${reference.pid}`);
    }
  }
  const twin = (s: Scenario, ref: ReferenceEnv): Scenario => ({
    name: `reference ${s.name}`,
    unit: s.unit,
    prepare: async () => ({ ...(await s.reference!(ref)), serverPid: ref.pid }),
  });
  const done = new Set<string>();
  for (const scenario of opts.only) {
    if (interrupted || serverGone) break;
    if (done.has(scenario.name)) continue;
    if (reference && hasTwin(scenario)) {
      outcomes.push(...(await runPair(bench, twin(scenario, reference), scenario, opts)));
      done.add(scenario.name);
      continue;
    }
    if (paired.has(scenario.name)) {
      // A pair runs where its first member is listed.
      const other = opts.only.find((s) => s.against === scenario.name) ?? scenario;
      const base = selected(other.against)!;
      outcomes.push(...(await runPair(bench, base, other, opts)));
      done.add(base.name).add(other.name);
      continue;
    }
    const outcome = await runScenario(bench, scenario, opts);
    printOutcome(outcome);
    outcomes.push(outcome);
  }
  await reference?.stop();
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
