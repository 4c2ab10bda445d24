import type { HistoryEntry, StoredEntry } from './entry';

/** How much history is kept (`history` option, resolved). */
export interface HistoryLimits {
  /** Most entries kept; older ones are dropped (their ids answer 404). */
  readonly maxEntries: number;
  /** Most bytes of entries kept (their JSON, diffs included). */
  readonly maxBytes: number;
}

/** A page of entries, newest first, and the `before` value of the next page (`null`: none). */
export interface HistoryPage {
  readonly entries: readonly HistoryEntry[];
  readonly next: string | null;
}

/**
 * Where a store keeps its history: read by the routes, written by the store itself in the same
 * commit as the config (the file engine's journal file, the PostgreSQL engine's table).
 */
export interface HistoryReader {
  /** Up to `limit` entries older than `before` (all when absent), newest first. */
  list(limit: number, before?: string): Promise<HistoryPage>;
  /** One entry with its diff, or `undefined` when unknown or dropped. */
  get(id: string): Promise<StoredEntry | undefined>;
}

/** A decimal id as a number (`undefined` when it is not one). */
export function idNumber(id: string): number | undefined {
  if (!/^[1-9]\d{0,15}$/.test(id)) return undefined;
  return Number(id);
}
