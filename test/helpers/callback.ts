import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A tiny client application's redirect endpoint: records every callback URL it receives. */
export async function startCallbackServer(): Promise<{
  url: string;
  received: URL[];
  close(): Promise<void>;
}> {
  const received: URL[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    if (url.pathname === '/spa') {
      // A single-page app on another origin than Latchkey.
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>SPA</title><h1>A single-page app on another origin</h1>');
      return;
    }
    received.push(url);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(
      `<!doctype html><title>Callback</title><h1>Client received the callback</h1><p id="code">${url.searchParams.has('code') ? 'code received' : 'no code'}</p>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/cb`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
