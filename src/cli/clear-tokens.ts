import { deleteExpired } from '../services/cleanup.js';
import type { Command } from './command.js';

export const clearTokensCommand: Command = {
  name: 'clear-tokens',
  summary: 'delete expired codes, tokens, sessions and counters in bounded batches',
  usage: 'clear-tokens [--batch-size N]',
  options: { 'batch-size': { type: 'string' } },
  async run(ctx, values, out) {
    const raw = values['batch-size'];
    const batchSize = typeof raw === 'string' ? Number(raw) : ctx.config.cleanup.batchSize;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
      throw new Error('--batch-size must be a whole number from 1 to 100000');
    }
    const counts = await deleteExpired(ctx.sql, batchSize);
    out(JSON.stringify({ deleted: counts }));
  },
};
