import { requireAdmin } from './access.js';
import { recordAudit } from './audit.js';
import { type Ctx, isServerRuntime, type ServerCtx } from './context.js';
import { KeyStore, type PublishedKey } from './keys.js';

/** The published signing keys (admins only): public data, but who may look is decided here. */
export function listSigningKeys(ctx: ServerCtx): readonly PublishedKey[] {
  requireAdmin(ctx);
  return ctx.runtime.keyStore.list();
}

/** Rotates the signing keys (admins and the CLI), with an audit event. */
export async function rotateSigningKeys(ctx: Ctx): Promise<PublishedKey[]> {
  requireAdmin(ctx);
  // Inside the server, its own store rotates, so the new key signs at once.
  let store: KeyStore;
  if (isServerRuntime(ctx.runtime)) store = ctx.runtime.keyStore;
  else {
    store = new KeyStore(ctx.sql, ctx.config, ctx.log);
    await store.init();
  }
  const fresh = await store.rotate();
  await recordAudit(ctx, 'keys.rotate', null, { kids: fresh.map((k) => k.kid) });
  return fresh;
}
