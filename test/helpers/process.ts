import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Spawned {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code once the process has exited and its output is closed. */
  exited: Promise<number | null>;
  /** Signals the whole process group (like Ctrl-C in a terminal) and waits for it to close. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs a command from the project root with extra environment; collects stdout+stderr. */
export function spawnProcess(
  command: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): Spawned {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, signal);
        } catch {
          // already gone
        }
      }
      return exited;
    },
  };
}

/**
 * Runs the CLI to completion (`npm run cli -- …` without npm's own start-up). With `input`, its
 * stdin is a pipe that receives it (an empty string closes it at once); otherwise stdin is closed.
 */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined>,
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  if (input !== undefined) child.stdin?.end(input);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { code, stdout, stderr };
}

/**
 * How long a spawned server may take to answer /healthz. A cold start of a fresh PGlite
 * directory (initdb + migrations, with tsx compiling the sources) under the suite's parallel
 * load on a 2-core CI machine has taken more than 30 s.
 */
export const SERVER_START_MS = 90_000;

/** Polls `url` until it answers 200 or `timeoutMs` passes; returns the last status (0: no answer). */
export async function waitForHealthy(url: string, timeoutMs: number, proc?: Spawned): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let status = 0;
  while (Date.now() < deadline) {
    if (proc && proc.child.exitCode !== null) return status;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      status = res.status;
      if (status === 200) return status;
    } catch {
      status = 0;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return status;
}
