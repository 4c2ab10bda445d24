import type { LockoutRecord } from './spi';

/**
 * Failed-attempt records in memory, the logic every lock-out store shares: a record is live
 * until its `resetTime`, each failure restarts the window, expired records are forgotten. The
 * memory store keeps only these; the PostgreSQL store keeps them as its copy of the table.
 */
export class LockoutRecords {
  private readonly records = new Map<string, LockoutRecord>();
  /** How long a record lives after its last failure (the router's `lockoutMs`). */
  windowMs = 30 * 60_000;

  constructor(
    /** The clock, in epoch ms. */
    readonly now: () => number,
    /** Sweep expired records once the map holds more than this many. */
    private readonly sweepAbove = 10_000,
  ) {}

  /** The live record of `key`, `undefined` when there is none or it expired (then it is dropped). */
  get(key: string): LockoutRecord | undefined {
    const record = this.records.get(key);
    if (record && record.resetTime <= this.now()) {
      this.records.delete(key);
      return undefined;
    }
    return record;
  }

  /** Count one failure of `key` here: the live count plus one, the window restarted. */
  increment(key: string): LockoutRecord {
    const record = {
      failures: (this.get(key)?.failures ?? 0) + 1,
      resetTime: this.now() + this.windowMs,
    };
    this.put(key, record);
    return record;
  }

  /** Keep `record` for `key` (a record of a shared store, as it reported it). */
  put(key: string, record: LockoutRecord): void {
    this.records.set(key, record);
    if (this.records.size > this.sweepAbove) this.sweep();
  }

  /** Forget `key`. */
  delete(key: string): void {
    this.records.delete(key);
  }

  /** Forget every record. */
  clear(): void {
    this.records.clear();
  }

  /** Number of records held (live or not yet swept). */
  get size(): number {
    return this.records.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, record] of this.records) if (record.resetTime <= now) this.records.delete(key);
  }
}
