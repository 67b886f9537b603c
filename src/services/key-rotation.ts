import { requireAdmin } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx } from './context.js';
import { KeyStore, type PublishedKey } from './keys.js';

/** Rotates the signing keys (admins and the CLI), with an audit event. */
export async function rotateSigningKeys(ctx: Ctx): Promise<PublishedKey[]> {
  requireAdmin(ctx);
  let store = ctx.runtime.keyStore;
  if (!store) {
    store = new KeyStore(ctx.sql, ctx.config, ctx.log);
    await store.init();
  }
  const fresh = await store.rotate();
  await recordAudit(ctx, 'keys.rotate', null, { kids: fresh.map((k) => k.kid) });
  return fresh;
}
