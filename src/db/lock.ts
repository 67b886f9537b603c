import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

/**
 * An exclusive lock on the PGlite data directory. Two processes on one PGlite directory would
 * silently lose writes, so the second refuses to start. A lock left by a process that died
 * (kill -9) is taken over: it names a pid that no longer runs on this host.
 */
export class DataDirLock {
  private constructor(readonly file: string) {}

  static acquire(dataDir: string): DataDirLock {
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, 'latchkey.lock');
    const content = JSON.stringify({
      pid: process.pid,
      host: os.hostname(),
      since: new Date().toISOString(),
    });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, content, { flag: 'wx', mode: 0o600 });
        return new DataDirLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = readHolder(file);
        if (holder && isAlive(holder)) {
          throw new DataDirLockedError(
            `Data directory ${dataDir} is in use by process ${holder.pid} (lock file ${file}). ` +
              'Stop that process, or use DATABASE_URL to share one PostgreSQL between instances.',
          );
        }
        fs.rmSync(file, { force: true }); // stale: its owner is gone
      }
    }
    throw new DataDirLockedError(`Could not lock data directory ${dataDir} (lock file ${file})`);
  }

  release(): void {
    const holder = readHolder(this.file);
    if (holder?.pid === process.pid) fs.rmSync(this.file, { force: true });
  }
}

interface Holder {
  pid: number;
  host: string;
}

function readHolder(file: string): Holder | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Holder>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string')
      return { pid: parsed.pid, host: parsed.host };
  } catch {
    // unreadable or half-written: treat as stale
  }
  return undefined;
}

function isAlive(holder: Holder): boolean {
  if (holder.host !== os.hostname()) return true; // cannot check another host's pids: assume it runs
  if (holder.pid === process.pid) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
