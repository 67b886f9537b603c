import net from 'node:net';

/**
 * A TCP proxy between the server under test and PostgreSQL, so that a test can simulate an
 * outage of "its" database without stopping the PostgreSQL server other tests share.
 * `stop()` closes the listener (new connects are refused) and resets every open connection;
 * `start()` listens again on the same port.
 */
export interface TcpProxy {
  readonly port: number;
  /** Open connections (client side), for diagnostics. */
  readonly connections: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;

  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const srv = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        track(client);
        track(upstream);
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        srv.off('error', reject);
        port = (srv.address() as net.AddressInfo).port;
        server = srv;
        resolve();
      });
    });

  await listen();
  return {
    get port() {
      return port;
    },
    get connections() {
      return sockets.size;
    },
    async start() {
      if (!server) await listen();
    },
    async stop() {
      const srv = server;
      server = undefined;
      const closed = srv ? new Promise<void>((resolve) => srv.close(() => resolve())) : Promise.resolve();
      for (const socket of sockets) {
        // A reset, as when the database host goes away, rather than a polite FIN.
        if (!socket.destroyed) socket.resetAndDestroy();
      }
      sockets.clear();
      await closed;
    },
  };
}
