import { LockoutRecords } from '../engines/lockout-records';
import type { LockoutRecord, LockoutStore } from '../types';

/** Options of {@link MemoryLockoutStore}. */
export interface MemoryLockoutStoreOptions {
  /** The clock, in epoch ms. Default: `Date.now`. Tests pass a fake one. */
  readonly now?: () => number;
  /** Sweep expired records once the map holds more than this many. Default: `10000`. */
  readonly sweepAbove?: number;
}

/**
 * The default {@link LockoutStore}: failed attempts counted in this process's memory.
 * Each failure restarts the window; a record is forgotten once its window has passed.
 */
export class MemoryLockoutStore implements LockoutStore {
  private readonly records: LockoutRecords;

  constructor(options: MemoryLockoutStoreOptions = {}) {
    this.records = new LockoutRecords(options.now ?? Date.now, options.sweepAbove ?? 10_000);
  }

  init(settings: { readonly windowMs: number }): void {
    this.records.windowMs = settings.windowMs;
  }

  get(key: string): LockoutRecord | undefined {
    return this.records.get(key);
  }

  increment(key: string): LockoutRecord {
    return this.records.increment(key);
  }

  reset(key: string): void {
    this.records.delete(key);
  }

  /** Number of records held: the live ones, and expired ones not yet swept or looked up (for tests and metrics). */
  get size(): number {
    return this.records.size;
  }
}
