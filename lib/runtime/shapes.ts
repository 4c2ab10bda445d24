// Checks of hook values: each returns the value as the wire shows it, or throws ShapeError with
// the JSON path of the first member that does not match (`$.claude["k"].success`).
import { isPlainObject } from '../plain-data';
import { ShapeError } from './hook-call';
import type {
  ApiKeyUsage,
  AuthFileState,
  ErrorLogFile,
  LogPage,
  ModelInfo,
  RecentRequestBucket,
  UsageEntry,
} from './types';

const member = (path: string, key: string | number): string =>
  typeof key === 'number'
    ? `${path}[${key}]`
    : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)
      ? `${path}.${key}`
      : `${path}[${JSON.stringify(key)}]`;

/** An object (not an array, a `Map` or a `Date`), else the error. */
export function object(value: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(value) || value instanceof Map || value instanceof Date)
    throw new ShapeError(path);
  return value;
}

export function array(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new ShapeError(path);
  return value;
}

export function count(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new ShapeError(path);
  return value;
}

export function string(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new ShapeError(path);
  return value;
}

export function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new ShapeError(path);
  return value;
}

/** Unix seconds (a safe integer >= 0) or a valid `Date`, as Unix seconds. */
export function unixSeconds(value: unknown, path: string): number {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (!Number.isFinite(ms) || ms < 0) throw new ShapeError(path);
    return Math.floor(ms / 1000);
  }
  return count(value, path);
}

/** A time as ISO 8601: a `Date`, Unix seconds, or a string `Date.parse` reads. */
export function isoTime(value: unknown, path: string): string {
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (!Number.isFinite(ms)) throw new ShapeError(path);
    return new Date(ms).toISOString();
  }
  return new Date(unixSeconds(value, path) * 1000).toISOString();
}

/** Buckets, the newest 20 kept. */
export function buckets(value: unknown, path: string): RecentRequestBucket[] {
  const list = array(value, path).map((b, i) => {
    const at = member(path, i);
    const o = object(b, at);
    return {
      time: string(o.time, member(at, 'time')),
      success: count(o.success, member(at, 'success')),
      failed: count(o.failed, member(at, 'failed')),
    };
  });
  return list.slice(-20);
}

function usageEntry(value: unknown, path: string): UsageEntry {
  const o = object(value, path);
  return {
    success: count(o.success, member(path, 'success')),
    failed: count(o.failed, member(path, 'failed')),
    recent_requests:
      o.recent_requests === undefined
        ? []
        : buckets(o.recent_requests, member(path, 'recent_requests')),
  };
}

/** `apiKeyUsage`'s value: provider → key → entry. */
export function apiKeyUsage(value: unknown): ApiKeyUsage {
  const out: Record<string, Record<string, UsageEntry>> = {};
  for (const [provider, keys] of Object.entries(object(value, '$'))) {
    const at = member('$', provider);
    const entries: Record<string, UsageEntry> = {};
    for (const [key, entry] of Object.entries(object(keys, at)))
      entries[key] = usageEntry(entry, member(at, key));
    out[provider] = entries;
  }
  return out;
}

/** The members `authFileState` adds to a `GET /auth-files` entry (`disabled`: the file is disabled, its status stays). */
export function authFileState(value: unknown, disabled: boolean): Record<string, unknown> {
  const o = object(value, '$') as Partial<Record<keyof AuthFileState, unknown>>;
  const index = o.auth_index;
  if (typeof index !== 'string' || index.trim() === '' || index.length > 128)
    throw new ShapeError('$.auth_index');
  const out: Record<string, unknown> = { auth_index: index };
  if (o.success !== undefined) out.success = count(o.success, '$.success');
  if (o.failed !== undefined) out.failed = count(o.failed, '$.failed');
  if (o.recent_requests !== undefined)
    out.recent_requests = buckets(o.recent_requests, '$.recent_requests');
  if (o.status !== undefined) {
    const status = string(o.status, '$.status');
    if (!disabled) out.status = status;
  }
  if (o.status_message !== undefined) {
    const message = string(o.status_message, '$.status_message');
    if (!disabled) out.status_message = message;
  }
  if (o.unavailable !== undefined) out.unavailable = boolean(o.unavailable, '$.unavailable');
  if (o.next_retry_after !== undefined)
    out.next_retry_after = isoTime(o.next_retry_after, '$.next_retry_after');
  return out;
}

/** A cursor the panel can send back: 1-1024 of `A-Za-z0-9_.=-`. */
export const CURSOR = /^[A-Za-z0-9_.=-]{1,1024}$/;

/** `readLogs`' value, checked. */
export function logPage(
  value: unknown,
): Required<Omit<LogPage, 'latestTimestamp'>> & { latestTimestamp: number } {
  const o = object(value, '$');
  const lines = array(o.lines, '$.lines').map((l, i) => string(l, member('$.lines', i)));
  const nextCursor = o.nextCursor === undefined ? '' : string(o.nextCursor, '$.nextCursor');
  if (nextCursor !== '' && !CURSOR.test(nextCursor)) throw new ShapeError('$.nextCursor');
  return {
    lines,
    latestTimestamp: unixSeconds(o.latestTimestamp, '$.latestTimestamp'),
    nextCursor,
    cursorReset: o.cursorReset === undefined ? false : boolean(o.cursorReset, '$.cursorReset'),
    lineCount: o.lineCount === undefined ? -1 : count(o.lineCount, '$.lineCount'),
  };
}

/** `listErrorLogs`' value, checked (names are filtered by the caller). */
export function errorLogFiles(value: unknown): { name: string; size: number; modified: number }[] {
  return array(value, '$').map((f, i) => {
    const at = member('$', i);
    const o = object(f, at) as Partial<Record<keyof ErrorLogFile, unknown>>;
    return {
      name: string(o.name, member(at, 'name')),
      size: count(o.size, member(at, 'size')),
      modified: unixSeconds(o.modified, member(at, 'modified')),
    };
  });
}

const MODEL_MEMBERS = ['id', 'display_name', 'type', 'owned_by'] as const;

/** `authFileModels`' value: only the four members the panel reads, blank ones left out. */
export function fileModels(value: unknown): Record<string, string>[] {
  return array(value, '$').map((m, i) => {
    const at = member('$', i);
    const o = object(m, at) as Partial<Record<keyof ModelInfo, unknown>>;
    const id = string(o.id, member(at, 'id'));
    if (id.trim() === '') throw new ShapeError(member(at, 'id'));
    const out: Record<string, string> = {};
    for (const name of MODEL_MEMBERS) {
      const v = o[name];
      if (v === undefined || v === null) continue;
      const s = string(v, member(at, name));
      if (s.trim() !== '') out[name] = s;
    }
    return out;
  });
}

/** `modelDefinitions`' value: objects with a non-blank string `id`, passed as given (JSON data). */
export function modelDefinitions(value: unknown): Record<string, unknown>[] {
  return array(value, '$').map((m, i) => {
    const at = member('$', i);
    const o = object(m, at);
    const id = string(o.id, member(at, 'id'));
    if (id.trim() === '') throw new ShapeError(member(at, 'id'));
    try {
      return JSON.parse(JSON.stringify(o)) as Record<string, unknown>;
    } catch {
      throw new ShapeError(at);
    }
  });
}
