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
