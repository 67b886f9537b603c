import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import type { Runtime } from '../services/context.js';

/**
 * A PGlite data directory belongs to one process, so while the server runs on it the CLI cannot
 * open it. The server therefore listens on a Unix socket inside the data directory (mode 0600:
 * only whoever may read the data directory may connect), and the CLI sends its command there;
 * the server runs it with the same command code and streams the output back.
 */
export function socketPath(dataDir: string): string {
  return path.join(dataDir, 'latchkey.sock');
}

type Execute = (argv: string[], out: (line: string) => void, err: (line: string) => void) => Promise<number>;

interface Request {
  argv: string[];
}
type Reply = { out: string } | { err: string } | { code: number };

export async function serveCliSocket(runtime: Runtime, execute: Execute): Promise<() => Promise<void>> {
  const file = socketPath(runtime.config.database.dataDir);
  fs.rmSync(file, { force: true }); // we hold the data-directory lock: any socket file is stale
  const server = net.createServer((conn) => {
    const send = (reply: Reply) => conn.write(`${JSON.stringify(reply)}\n`);
    const lines = readline.createInterface({ input: conn });
    lines.once('line', async (line) => {
      lines.close();
      let request: Request;
      try {
        request = JSON.parse(line) as Request;
        if (!Array.isArray(request.argv) || !request.argv.every((a) => typeof a === 'string'))
          throw new Error();
      } catch {
        send({ err: 'error: malformed request' });
        send({ code: 2 });
        conn.end();
        return;
      }
      const code = await execute(
        request.argv,
        (out) => send({ out }),
        (err) => send({ err }),
      ).catch(() => 1);
      send({ code });
      conn.end();
    });
    conn.on('error', () => {});
  });
  const previousMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(file, () => resolve());
    });
  } finally {
    process.umask(previousMask);
  }
  fs.chmodSync(file, 0o600);
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      fs.rmSync(file, { force: true });
    });
}

/** Sends a command to the server that holds the data directory; resolves with its exit code. */
export function sendToServer(
  dataDir: string,
  argv: string[],
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number | undefined> {
  const file = socketPath(dataDir);
  if (!fs.existsSync(file)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const conn = net.createConnection(file);
    let code: number | undefined;
    conn.on('error', () => resolve(undefined));
    conn.on('connect', () => conn.write(`${JSON.stringify({ argv })}\n`));
    const lines = readline.createInterface({ input: conn });
    lines.on('line', (line) => {
      const reply = JSON.parse(line) as Reply;
      if ('out' in reply) out(reply.out);
      else if ('err' in reply) err(reply.err);
      else code = reply.code;
    });
    lines.on('close', () => resolve(code ?? 1));
  });
}
