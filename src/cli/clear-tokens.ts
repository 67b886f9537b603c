import { deleteExpired } from '../services/cleanup.js';
import type { Command } from './command.js';

export const clearTokensCommand: Command = {
  name: 'clear-tokens',
  summary: 'delete expired codes, tokens, sessions and counters in bounded batches',
  usage: 'clear-tokens [--batch-size N] [--pause-ms N]',
  options: { 'batch-size': { type: 'string' }, 'pause-ms': { type: 'string' } },
  async run(ctx, values, out) {
    const raw = values['batch-size'];
    const batchSize = typeof raw === 'string' ? Number(raw) : ctx.config.cleanup.batchSize;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
      throw new Error('--batch-size must be a whole number from 1 to 100000');
    }
    // A short pause between batches leaves room for token issuance on a busy server.
    const pauseMs = values['pause-ms'] === undefined ? 20 : Number(values['pause-ms']);
    if (!Number.isInteger(pauseMs) || pauseMs < 0 || pauseMs > 10_000) {
      throw new Error('--pause-ms must be a whole number from 0 to 10000');
    }
    const counts = await deleteExpired(ctx.sql, batchSize, {
      pauseMs,
      abandonedAfter: ctx.config.dynamicRegistration.abandonedAfter,
    });
    out(JSON.stringify({ deleted: counts }));
  },
};
