import { requireAdmin } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx } from './context.js';
import { KeyStore, type PublishedKey } from './keys.js';

/** The published signing keys (admins only): public data, but who may look is decided here. */
export function listSigningKeys(ctx: Ctx): readonly PublishedKey[] {
  requireAdmin(ctx);
  const store = ctx.runtime.keyStore;
  if (!store) throw new Error('listSigningKeys: this runtime has no key store');
  return store.list();
}

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
