import type { Runtime } from '../services/context.js';
import { enableMetrics, observeDraining, observeKeys, observePools } from './metrics.js';
import { listenForMetrics } from './metrics-server.js';

export interface Operations {
  /** The `/metrics` URL, when METRICS_PORT is set. */
  metricsUrl?: string;
  stop(): Promise<void>;
}

/**
 * With METRICS_PORT: turns recording on, serves `/metrics` on its own listener and registers
 * this server's pools, keys and drain state as gauge sources. Without it: nothing at all.
 */
export async function observeOperations(runtime: Runtime): Promise<Operations> {
  const { port, host } = runtime.config.metrics;
  if (port === 0) return { stop: async () => {} };
  enableMetrics();
  const listener = await listenForMetrics(port, host);
  const sources = [
    observePools(() => runtime.db.pools()),
    observeKeys(() => runtime.keyStore.list()),
    observeDraining(() => runtime.readiness.isDraining()),
  ];
  return {
    metricsUrl: listener.url,
    async stop() {
      for (const remove of sources) remove();
      await listener.close();
    },
  };
}
