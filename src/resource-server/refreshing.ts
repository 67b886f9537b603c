/**
 * A value fetched from the authorization server (its metadata, its JWKS): loaded on first use,
 * reloaded when older than `maxAgeMs`, one load at a time however many requests wait for it. A
 * failed reload keeps the previous value (the authorization server being briefly down must not
 * stop tokens it already vouched for); a failed first load fails the waiting requests, and the
 * next request tries again.
 */
export class Refreshing<T> {
  private value: T | undefined;
  private loadedAt = 0;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<T> | undefined;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<T> {
    if (this.value !== undefined && this.now() - this.loadedAt < this.maxAgeMs) return this.value;
    return this.reload();
  }

  /**
   * Reloads unless a load began less than `minIntervalMs` ago (the rate limit on refetching a
   * JWKS for an unknown `kid`: a flood of made-up kids costs one fetch per interval). Resolves
   * true when a load ran (or was already running) and succeeded.
   */
  async refresh(minIntervalMs: number): Promise<boolean> {
    if (!this.inflight && this.now() - this.lastAttempt < minIntervalMs) return false;
    try {
      await this.reload();
      return true;
    } catch {
      return false;
    }
  }

  private reload(): Promise<T> {
    if (this.inflight) return this.inflight;
    this.lastAttempt = this.now();
    const attempt = this.load().then(
      (value) => {
        this.value = value;
        this.loadedAt = this.now();
        return value;
      },
      (err: unknown) => {
        if (this.value !== undefined) return this.value;
        throw err;
      },
    );
    this.inflight = attempt.finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }
}
