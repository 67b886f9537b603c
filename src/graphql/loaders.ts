import DataLoader from 'dataloader';
import type { Application } from '../entities/Application.js';
import type { User } from '../entities/User.js';
import { applicationsByIds } from '../services/applications.js';
import type { Ctx } from '../services/context.js';
import { activeTokenCounts } from '../services/token-management.js';
import { usersByIds } from '../services/users.js';

/** Per-request batching: a list of 50 applications with owners and counts is a few queries, not 100. */
export interface Loaders {
  user: DataLoader<string, User | null>;
  application: DataLoader<string, Application | null>;
  activeTokenCount: DataLoader<string, number>;
}

export function createLoaders(ctx: Ctx): Loaders {
  return {
    user: new DataLoader(async (ids) => {
      const found = await usersByIds(ctx, ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
    application: new DataLoader(async (ids) => {
      const found = await applicationsByIds(ctx, ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
    activeTokenCount: new DataLoader(async (ids) => {
      const counts = await activeTokenCounts(ctx, ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
  };
}
