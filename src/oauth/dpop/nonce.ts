import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * RFC 9449 §8–9 server nonces without state: a nonce is an HMAC of the current time window under
 * the server secret every instance shares (src/services/server-secrets.ts), so any instance
 * accepts a nonce any other issued, and nothing is stored. The current and the previous window
 * are accepted: a nonce lives between one and two windows.
 */
export const NONCE_WINDOW_SECONDS = 300;

export class DpopNonces {
  private cached: { window: number; value: string } | null = null;

  constructor(private readonly secret: Buffer) {}

  /** The nonce to hand out now (one HMAC per window per process). */
  current(nowSeconds: number): string {
    const window = Math.floor(nowSeconds / NONCE_WINDOW_SECONDS);
    if (this.cached?.window !== window) this.cached = { window, value: this.forWindow(window) };
    return this.cached.value;
  }

  accepts(nonce: string | undefined, nowSeconds: number): boolean {
    if (typeof nonce !== 'string' || nonce.length !== 22) return false;
    const window = Math.floor(nowSeconds / NONCE_WINDOW_SECONDS);
    const presented = Buffer.from(nonce);
    return [this.current(nowSeconds), this.forWindow(window - 1)].some((n) =>
      timingSafeEqual(Buffer.from(n), presented),
    );
  }

  private forWindow(window: number): string {
    // The label keeps this use of the shared secret apart from its others (CSRF, signed state).
    return createHmac('sha256', this.secret)
      .update(`latchkey dpop-nonce v1\0${window}`)
      .digest('base64url')
      .slice(0, 22);
  }
}
