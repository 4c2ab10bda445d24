import type { ProxyConfig } from '../types';
import { readAliased, SECRET_PATHS } from '../config/secret';
import { changeDiff } from './diff';
import type { Origin } from './origin';

/** One accepted change, as `GET /config/history` lists it. */
export interface HistoryEntry {
  /** Decimal, strictly increasing per config (per namespace with PostgreSQL). */
  readonly id: string;
  /** ISO 8601, UTC, milliseconds. */
  readonly time: string;
  /** `api` a request, `file` an edit outside the API, `system` the library itself, `revert` a revert. */
  readonly source: Origin['source'];
  /** The request's method (`api`, `revert`). */
  readonly method?: string;
  /** The request's path below the mount point (`/api-keys`). */
  readonly path?: string;
  /** The address the access check saw; absent for `file` and `system`. */
  readonly client?: string;
  /** Lines added. */
  readonly added: number;
  /** Lines removed. */
  readonly removed: number;
  /** For a revert: the entry it undid. */
  readonly 'revert-of'?: string;
  /** For an auth-file change: the files (their contents are not kept). */
  readonly files?: readonly string[];
}

/** An entry as a journal keeps it: with its diff's hunks (absent for auth-file entries). */
export interface StoredEntry extends HistoryEntry {
  readonly hunks?: string;
}

/** An entry before a journal gives it its id. */
export type Draft = Omit<StoredEntry, 'id'>;

/** One change of the config text inside a commit: who asked, the text before and after. */
export interface Step {
  readonly origin: Origin;
  readonly before: string;
  readonly beforeConfig: ProxyConfig;
  readonly after: string;
  readonly afterConfig: ProxyConfig;
}

/** The key's value in a config (plaintext or hash, whatever its length), `''` when none; also behind a `<<` merge. */
export function secretOf(config: ProxyConfig): string {
  let { value } = readAliased(config, SECRET_PATHS);
  if (value === undefined) {
    // The snapshot keeps merge keys as keys: `remote-management: {<<: *base}`.
    const section = config['remote-management'];
    const merged =
      section && typeof section === 'object'
        ? (section as Record<string, unknown>)['<<']
        : undefined;
    for (const source of Array.isArray(merged) ? merged : [merged]) {
      if (source && typeof source === 'object' && 'secret-key' in source) {
        value = (source as Record<string, unknown>)['secret-key'];
        break;
      }
    }
  }
  return typeof value === 'string' || typeof value === 'number' ? String(value).trim() : '';
}

/** An entry's fields in the documented order: time, source, method, path, client, counts, revert-of, files, hunks. */
function draft(
  origin: Origin,
  time: Date,
  counts: { added: number; removed: number },
  extra: { files?: readonly string[]; hunks?: string },
): Draft {
  const d: { -readonly [K in keyof Draft]?: Draft[K] } = {
    time: time.toISOString(),
    source: origin.source,
  };
  if (origin.method !== undefined) d.method = origin.method;
  if (origin.path !== undefined) d.path = origin.path;
  if (origin.client !== undefined && origin.source !== 'file' && origin.source !== 'system')
    d.client = origin.client;
  d.added = counts.added;
  d.removed = counts.removed;
  if (origin.revertOf !== undefined) d['revert-of'] = origin.revertOf;
  if (extra.files) d.files = [...extra.files];
  if (extra.hunks !== undefined) d.hunks = extra.hunks;
  return d as Draft;
}

/** The draft entry of one change of the config text, its diff computed with the key hidden. */
export function draftOf(step: Step, time: Date): Draft {
  const { hunks, added, removed } = changeDiff(step.before, step.after, [
    secretOf(step.beforeConfig),
    secretOf(step.afterConfig),
  ]);
  return draft(step.origin, time, { added, removed }, { hunks });
}

/** The draft entry of an auth-file change (no contents, no diff). */
export function filesDraft(origin: Origin, files: readonly string[], time: Date): Draft {
  return draft(origin, time, { added: 0, removed: 0 }, { files });
}

/** The entry without its hunks, fields in the documented order. */
export function publicEntry(entry: StoredEntry): HistoryEntry {
  const rest: { -readonly [K in keyof StoredEntry]?: StoredEntry[K] } = { ...entry };
  delete rest.hunks;
  return rest as HistoryEntry;
}
