import { recordAudit } from '../services/audit.js';
import { KeyStore } from '../services/keys.js';
import type { Command } from './command.js';

export const rotateKeysCommand: Command = {
  name: 'rotate-keys',
  summary: 'make new signing keys active; the previous ones stay published until their tokens expire',
  usage: 'rotate-keys',
  options: {},
  async run(ctx, _values, out) {
    const store = ctx.runtime.keyStore ?? new KeyStore(ctx.sql, ctx.config, ctx.log);
    if (!ctx.runtime.keyStore) await store.init();
    const fresh = await store.rotate();
    await recordAudit(ctx, 'keys.rotate', null, { kids: fresh.map((k) => k.kid) });
    out(JSON.stringify({ active: fresh.map((k) => ({ kid: k.kid, alg: k.alg })) }));
  },
};
