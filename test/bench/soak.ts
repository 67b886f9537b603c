/**
 * `npm run soak [-- --minutes N]`: mixed load (client_credentials, introspection, refresh,
 * GraphQL) against one server for N minutes (default 2) after a 20 s warm-up. Passes when no
 * request failed and the server's RSS at the end is within 10 % of its RSS after warm-up.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { startBench } from './provision.js';
import { type Driver, type Measurement, scenarios } from './scenarios.js';

const MIX: Record<string, number> = { cc: 8, introspect: 8, refresh: 4, graphql: 4 };
const WARMUP_SECONDS = 20;

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

async function runMix(
  drivers: Array<[string, Driver]>,
  seconds: number,
): Promise<Array<[string, Measurement]>> {
  return Promise.all(
    drivers.map(
      async ([name, driver]) =>
        [name, await driver.run(seconds, { connections: MIX[name], flowWorkers: 2 })] as [
          string,
          Measurement,
        ],
    ),
  );
}

async function main() {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '2' } } });
  const seconds = Math.round(Number(values.minutes) * 60);
  const bench = await startBench({});
  try {
    const drivers: Array<[string, Driver]> = [];
    for (const scenario of scenarios.filter((s) => s.name in MIX))
      drivers.push([scenario.name, await scenario.prepare(bench.env)]);
    console.log(
      `soak: ${drivers.map(([n]) => `${n}×${MIX[n]}`).join(', ')} connections; warm-up ${WARMUP_SECONDS} s, then ${seconds} s`,
    );
    await runMix(drivers, WARMUP_SECONDS);
    const afterWarmup = rssMb(bench.serverPid);
    const samples: number[] = [afterWarmup];
    const sampler = setInterval(() => samples.push(rssMb(bench.serverPid)), 10_000);
    const results = await runMix(drivers, seconds);
    clearInterval(sampler);
    const atEnd = rssMb(bench.serverPid);
    samples.push(atEnd);
    let failures = 0;
    for (const [name, m] of results) {
      failures += m.non2xx + m.errors;
      console.log(
        `${name.padEnd(11)} ${m.rate.toFixed(1).padStart(8)} req/s  p50 ${m.p50} ms  p99 ${m.p99} ms  non2xx ${m.non2xx}  errors ${m.errors}${m.sample ? `  first failure: ${m.sample}` : ''}`,
      );
    }
    const growth = ((atEnd - afterWarmup) / afterWarmup) * 100;
    console.log(
      `rss: after warm-up ${afterWarmup} MB, at end ${atEnd} MB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} %), max ${Math.max(...samples)} MB; samples ${samples.join(' ')}`,
    );
    const ok = failures === 0 && growth <= 10;
    console.log(
      `soak: ${ok ? 'PASS' : 'FAIL'} (${failures} failed requests, RSS growth ${growth.toFixed(1)} % of at most 10 %)`,
    );
    process.exitCode = ok ? 0 : 1;
  } finally {
    await bench.close();
  }
}

await main();
