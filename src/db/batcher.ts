import { recordBatch } from '../observability/metrics.js';

/**
 * Combines concurrent single-row statements into one multi-row statement. A request is sent at
 * once when fewer than `maxInFlight` batches are running (no added latency at low load); under
 * load, requests queue while the running batches finish and go together in the next one. Each
 * caller still waits for its own row's statement to complete (and commit) before answering.
 */
export class Batcher<I, O> {
  private queue: Array<{ item: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  private inFlight = 0;

  constructor(
    /** Runs one batch; returns one result (or Error) per item, in order. */
    private readonly run: (items: I[]) => Promise<Array<O | Error>>,
    /** `name` labels the batch-size metric. */
    private readonly opts: { maxBatch: number; maxInFlight: number; name?: string },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight++;
      recordBatch(this.opts.name ?? 'batch', batch.length);
      this.run(batch.map((b) => b.item))
        .then(
          (results) => {
            batch.forEach((b, i) => {
              const r = results[i];
              if (r instanceof Error) b.reject(r);
              else b.resolve(r as O);
            });
          },
          (err: unknown) => {
            for (const b of batch) b.reject(err);
          },
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}

/**
 * The hot paths' batching (token inserts and lookups, DPoP `jti` claims). One statement of a
 * kind in flight, up to 200 rows: while it runs (an insert waits for its
 * commit's WAL flush), the requests that arrive queue and go together in the next one. A
 * statement's fixed cost (bind, plan, executor start, the commit's flush) then falls on a whole
 * batch: under 32 connections PostgreSQL spent 46 µs of CPU per client_credentials token and
 * 22 µs per introspection this way, against 133 µs and 129 µs with four statements in flight
 * (README, Performance). An idle server still sends a lone request at once.
 */
export const HOT_PATH_BATCHING = { maxBatch: 200, maxInFlight: 1 };
