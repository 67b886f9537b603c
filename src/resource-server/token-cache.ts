/**
 * Verified tokens by their exact string, each until its own deadline (never past the token's
 * `exp`). Bounded: when full, the oldest entry goes first (insertion order), so a flood of
 * distinct valid tokens costs memory up to `maxEntries` and no more. Only successes are stored:
 * a refusal or an unreachable authorization server is asked again next time.
 */
export class TokenCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(token: string): T | undefined {
    const hit = this.entries.get(token);
    if (!hit) return undefined;
    if (hit.until > this.now()) return hit.value;
    this.entries.delete(token);
    return undefined;
  }

  set(token: string, value: T, untilMs: number): void {
    if (this.maxEntries <= 0 || untilMs <= this.now()) return;
    this.entries.delete(token);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, { value, until: untilMs });
  }

  get size(): number {
    return this.entries.size;
  }
}
