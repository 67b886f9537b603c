import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from '../helpers/ports.js';

/**
 * The machine's ceiling for this load: a bare Node `http` server in its own process that reads
 * the request body and answers a fixed token-shaped JSON, as the shared kit's `bare.mjs` does.
 * Every `npm run bench` measures it first, so each request scenario's rate is also printed as a
 * fraction of what Node itself manages on this machine at this moment.
 */
const HANDLER = `
const http = require('node:http');
const body = JSON.stringify({ access_token: 'x'.repeat(43), token_type: 'Bearer', expires_in: 3600 });
http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(body);
  });
}).listen(Number(process.argv[1]), '127.0.0.1', () => process.send('listening'));
`;

export interface BareServer {
  baseUrl: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startBare(): Promise<BareServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['-e', HANDLER, String(port)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await once(child, 'message');
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
