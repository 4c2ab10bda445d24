// Request counters a host feeds once per proxied request: success/failed per provider and API
// key, and per credential (`auth_index`), with 10-minute buckets for the panel's bars.
import type { ApiKeyUsage, RecentRequestBucket, UsageEntry } from './types';

/** One proxied request, as the host tells the recorder. */
export interface UsageRecord {
  /** Whether the upstream answered with success (the host decides: e.g. a status below 400). */
  readonly success: boolean;
  /** The provider of an API-key credential, e.g. `claude` or an `openai-compatibility` name (lower-cased here). */
  readonly provider?: string;
  /** The API-key credential as the panel finds it: `<base-url>|<api-key>` (trimmed). */
  readonly key?: string;
  /** The token file's `auth_index`, when the request used one. */
  readonly authIndex?: string;
  /** When it happened. Default: now. */
  readonly at?: Date | number;
}

/** Options of {@link usageRecorder}. */
export interface UsageRecorderOptions {
  /** The clock, ms since the epoch. Default: `Date.now`. */
  readonly now?: () => number;
}

/** What {@link usageRecorder} returns: `record` per request, and the values of the hooks. */
export interface UsageRecorder {
  /** Count one request. */
  record(entry: UsageRecord): void;
  /** The value of the `apiKeyUsage` hook: provider → key → counts. */
  apiKeyUsage(): ApiKeyUsage;
  /** The counts of one `auth_index` (for `authFileState`), or `undefined` when none was recorded. */
  countsOf(authIndex: string): UsageEntry | undefined;
}

const WINDOW_MS = 10 * 60_000;
const BUCKETS = 20;

class Counter {
  success = 0;
  failed = 0;
  /** Window start (ms) → counts; only the newest 20 windows are kept. */
  readonly windows = new Map<number, { success: number; failed: number }>();

  add(success: boolean, at: number): void {
    if (success) this.success++;
    else this.failed++;
    const start = Math.floor(at / WINDOW_MS) * WINDOW_MS;
    let w = this.windows.get(start);
    if (!w) {
      w = { success: 0, failed: 0 };
      this.windows.set(start, w);
      if (this.windows.size > BUCKETS) {
        const oldest = Math.min(...this.windows.keys());
        this.windows.delete(oldest);
      }
    }
    if (success) w.success++;
    else w.failed++;
  }

  entry(now: number): UsageEntry {
    const current = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    const recent: RecentRequestBucket[] = [];
    for (let i = BUCKETS - 1; i >= 0; i--) {
      const start = current - i * WINDOW_MS;
      const w = this.windows.get(start);
      recent.push({
        time: `${clock(start)}-${clock(start + WINDOW_MS)}`,
        success: w?.success ?? 0,
        failed: w?.failed ?? 0,
      });
    }
    return { success: this.success, failed: this.failed, recent_requests: recent };
  }
}

/** `HH:MM` in the server's time zone. */
function clock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/**
 * Counters for the `apiKeyUsage` hook and the counts of `authFileState`: the host calls
 * `record()` once per proxied request. The buckets are the 20 newest 10-minute windows of the
 * server's clock, oldest first, the last the current one (empty windows included), labelled
 * `HH:MM-HH:MM`. Memory: one counter per key and credential seen, 20 windows each.
 *
 * @example
 * ```ts
 * const usage = usageRecorder();
 * usage.record({ provider: 'claude', key: 'https://api.anthropic.com|sk-1', success: res.ok });
 * createManagementRouter(cfg, auths, { runtime: { apiKeyUsage: () => usage.apiKeyUsage() } });
 * ```
 */
export function usageRecorder(options: UsageRecorderOptions = {}): UsageRecorder {
  const now = options.now ?? Date.now;
  const byKey = new Map<string, Map<string, Counter>>();
  const byIndex = new Map<string, Counter>();
  return {
    record(entry) {
      const at =
        entry.at === undefined ? now() : entry.at instanceof Date ? entry.at.getTime() : entry.at;
      const success = entry.success === true;
      const provider = entry.provider?.trim().toLowerCase();
      const key = entry.key?.trim();
      if (provider && key) {
        let keys = byKey.get(provider);
        if (!keys) byKey.set(provider, (keys = new Map()));
        let counter = keys.get(key);
        if (!counter) keys.set(key, (counter = new Counter()));
        counter.add(success, at);
      }
      const index = entry.authIndex?.trim();
      if (index) {
        let counter = byIndex.get(index);
        if (!counter) byIndex.set(index, (counter = new Counter()));
        counter.add(success, at);
      }
    },
    apiKeyUsage() {
      const t = now();
      const out: Record<string, Record<string, UsageEntry>> = {};
      for (const [provider, keys] of byKey) {
        out[provider] = {};
        for (const [key, counter] of keys) out[provider][key] = counter.entry(t);
      }
      return out;
    },
    countsOf(authIndex) {
      return byIndex.get(authIndex)?.entry(now());
    },
  };
}
