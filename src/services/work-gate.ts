import { BusyError } from './errors.js';

/**
 * A counting semaphore with a bounded wait queue: at most `concurrency` jobs run, at most
 * `queue` wait, and anything beyond fails at once with BusyError, so a flood costs a bounded
 * amount of memory and latency instead of an ever-growing backlog. A finishing job hands its
 * slot straight to the oldest waiter.
 */
export class WorkGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly queue: number,
    private readonly retryAfter = 1,
  ) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency) {
      this.running++;
    } else {
      if (this.waiting.length >= this.queue) throw new BusyError(this.retryAfter);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
