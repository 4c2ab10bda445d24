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
  private readonly records = new Map<string, LockoutRecord>();
  private windowMs = 30 * 60_000;
  private readonly now: () => number;
  private readonly sweepAbove: number;

  constructor(options: MemoryLockoutStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.sweepAbove = options.sweepAbove ?? 10_000;
  }

  init(settings: { readonly windowMs: number }): void {
    this.windowMs = settings.windowMs;
  }

  get(key: string): LockoutRecord | undefined {
    const record = this.records.get(key);
    if (record && record.resetTime <= this.now()) {
      this.records.delete(key);
      return undefined;
    }
    return record;
  }

  increment(key: string): LockoutRecord {
    const failures = (this.get(key)?.failures ?? 0) + 1;
    const record = { failures, resetTime: this.now() + this.windowMs };
    this.records.set(key, record);
    if (this.records.size > this.sweepAbove) this.sweep();
    return record;
  }

  reset(key: string): void {
    this.records.delete(key);
  }

  /** Number of records held: the live ones, and expired ones not yet swept or looked up (for tests and metrics). */
  get size(): number {
    return this.records.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, record] of this.records) if (record.resetTime <= now) this.records.delete(key);
  }
}
