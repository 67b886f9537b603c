import { migrate } from '../db/orm.js';
import type { Command } from './command.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'apply pending database migrations',
  usage: 'migrate',
  options: {},
  async run(ctx, _values, out) {
    const applied = await migrate(ctx.runtime.db);
    out(
      applied.length
        ? `applied ${applied.length} migration(s): ${applied.join(', ')}`
        : 'database is up to date',
    );
  },
};
