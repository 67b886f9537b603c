import type { EntityManager, EntityName, FilterQuery } from '@mikro-orm/core';
import { ValidationError } from './errors.js';

export const MAX_PAGE = 100;
export const DEFAULT_PAGE = 20;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** A keyset position: rows are ordered newest first by (created_at, id). */
export interface Position {
  createdAt: Date;
  id: string;
}

export interface Page<T> {
  nodes: T[];
  totalCount: number;
  hasNextPage: boolean;
  endCursor: string | null;
  cursorOf(node: T): string;
}

export function pageSize(args: PageArgs): number {
  const first = args.first ?? DEFAULT_PAGE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) {
    throw new ValidationError('first', `first must be between 0 and ${MAX_PAGE}.`);
  }
  return first;
}

/**
 * The most rows a page asked for with `first` can hold, for pricing a query before it runs: the
 * page `pageSize` will fetch, at least one (totals and page info are read even for `first: 0`),
 * and an out-of-range `first` is refused by `pageSize` before any row is read.
 */
export function pageBound(first: unknown): number {
  if (typeof first !== 'number') return DEFAULT_PAGE;
  return Math.min(MAX_PAGE, Math.max(1, first));
}

export function encodeCursor(p: Position): string {
  return Buffer.from(`${p.createdAt.toISOString()}|${p.id}`).toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined): Position | null {
  if (!cursor) return null;
  const [iso, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(iso ?? '');
  if (!id || Number.isNaN(createdAt.getTime()) || !/^[0-9a-f-]{36}$/i.test(id)) {
    throw new ValidationError('after', 'The cursor is not valid.');
  }
  return { createdAt, id };
}

/** Builds a page from rows fetched with limit first + 1 (the extra row says whether more follow). */
export function toPage<T extends Position>(rows: T[], first: number, totalCount: number): Page<T> {
  const nodes = rows.slice(0, first);
  const last = nodes.at(-1);
  return {
    nodes,
    totalCount,
    hasNextPage: rows.length > first,
    endCursor: last ? encodeCursor(last) : null,
    cursorOf: (node) => encodeCursor(node),
  };
}

/**
 * One page of an entity ordered newest first by (createdAt, id): keyset pagination (no OFFSET,
 * so deep pages cost the same) plus the total count.
 */
export async function findPage<T extends Position & object>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  args: PageArgs,
  populate?: readonly string[],
): Promise<Page<T>> {
  const first = pageSize(args);
  const after = decodeCursor(args.after);
  const paged = (
    after
      ? {
          $and: [
            where,
            {
              $or: [
                { createdAt: { $lt: after.createdAt } },
                { createdAt: after.createdAt, id: { $lt: after.id } },
              ],
            },
          ],
        }
      : where
  ) as FilterQuery<T>;
  const [rows, totalCount] = await Promise.all([
    em.find(entity, paged, {
      orderBy: { createdAt: 'desc', id: 'desc' } as never,
      limit: first + 1,
      populate: (populate ?? []) as never,
    }),
    em.fork().count(entity, where),
  ]);
  return toPage(rows as T[], first, totalCount);
}

/** A case-insensitive "contains" condition with LIKE's wildcards escaped. */
export function ilikeContains(text: string): { $ilike: string } {
  return { $ilike: `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%` };
}
