import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './process.js';

export function readReadme(): string {
  return fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
}

/**
 * The ```sh blocks of the README section under `heading` (up to the next heading of the same
 * level), in order; at least `minBlocks` of them, so a section that lost its examples fails.
 */
export function shellBlocks(readme: string, heading: string, minBlocks: number): string {
  const start = readme.indexOf(`${heading}\n`);
  if (start < 0) throw new Error(`README has no "${heading}" section`);
  const level = heading.slice(0, heading.indexOf(' '));
  const next = readme.indexOf(`\n${level} `, start + heading.length);
  const section = readme.slice(start, next < 0 ? undefined : next);
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  if (blocks.length < minBlocks) throw new Error(`"${heading}" lost its shell blocks`);
  return blocks.join('\n');
}

export interface BrowserStepRun {
  /** The authorization URL the script printed for the user to open. */
  authorizeUrl: URL;
  /** Hands the script the address the browser came back to, then the rest; resolves to the exit code. */
  finish(callback: string): Promise<number | null>;
  stdout(): string;
  stderr(): string;
  kill(): void;
}

/**
 * Runs a README script the way a reader does: up to its `read -r` (where the reader opens the
 * printed authorization URL in a browser), waits for that URL, and lets the test play the browser.
 * `prelude` runs first; `done` is echoed at the end so the caller sees the script completed.
 */
export async function runUntilBrowser(
  script: string,
  opts: { issuer: string; env: Record<string, string>; prelude?: string; done: string },
): Promise<BrowserStepRun> {
  const lines = script.split('\n');
  const readAt = lines.findIndex((l) => /^read -r /.test(l));
  if (readAt <= 0) throw new Error('the script has no `read -r` step for the browser');
  const before = `set -euo pipefail\n${opts.prelude ? `${opts.prelude}\n` : ''}${lines.slice(0, readAt + 1).join('\n')}\n`;
  const after = `${lines.slice(readAt + 1).join('\n')}\necho ${opts.done}\n`;
  const bash = spawn('bash', ['-s'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  bash.stdout.on('data', (d) => {
    stdout += d;
  });
  bash.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((r) => bash.on('close', (code) => r(code)));
  bash.stdin.write(before);
  const deadline = Date.now() + 60_000;
  let found: string | undefined;
  while (!found) {
    found = stdout.split('\n').find((l) => l.startsWith(`${opts.issuer}/o/authorize/?`));
    if (!found && (Date.now() > deadline || bash.exitCode !== null)) {
      bash.kill('SIGKILL');
      throw new Error(`no authorize URL; stdout: ${stdout} stderr: ${stderr}`);
    }
    if (!found) await new Promise((r) => setTimeout(r, 50));
  }
  return {
    authorizeUrl: new URL(found),
    finish(callback) {
      bash.stdin.end(`${callback}\n${after}`);
      return exited;
    },
    stdout: () => stdout,
    stderr: () => stderr,
    kill: () => bash.kill('SIGKILL'),
  };
}
