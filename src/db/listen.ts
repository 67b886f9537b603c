import pg from 'pg';
import type { Logger } from '../log.js';

export interface Channel {
  onMessage(payload: string): void;
  /** Runs whenever notifications may have been missed (reconnects), so caches can be dropped. */
  onGap(): void;
}

/**
 * A dedicated connection that LISTENs on some channels and dispatches each NOTIFY.
 * Reconnects with back-off.
 */
export function listen(
  url: string,
  channels: Record<string, Channel>,
  log: Logger,
): { close(): Promise<void> } {
  const onGap = () => {
    for (const c of Object.values(channels)) c.onGap();
  };
  let client: pg.Client | undefined;
  let closed = false;
  let delay = 250;
  let timer: NodeJS.Timeout | undefined;

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({
      connectionString: url,
      application_name: 'latchkey-listen',
      connectionTimeoutMillis: 3000,
    });
    c.on('error', () => {}); // handled by 'end'
    c.on('notification', (msg) => {
      channels[msg.channel]?.onMessage(msg.payload ?? '');
    });
    c.on('end', () => {
      if (client === c) client = undefined;
      onGap();
      schedule();
    });
    try {
      await c.connect();
      for (const channel of Object.keys(channels)) await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      client = c;
      delay = 250;
      onGap(); // anything changed while we were away
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'listen connection failed');
      c.end().catch(() => {});
    }
  };
  const schedule = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
    timer.unref();
    delay = Math.min(delay * 2, 5000);
  };
  void connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await client?.end().catch(() => {});
    },
  };
}
