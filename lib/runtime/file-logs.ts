// The log hooks over the Go server's log folder: `main.log` and its rotations (`main.log.1`,
// `main-2026-01-02T03-04-05.log`), request logs `<path>-<time>-<id>.log` and `error-*.log`.
// Lines are `[YYYY-MM-DD HH:MM:SS] ...` in the server's time zone; a line without a stamp belongs
// to the stamped line before it.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ErrorLogFile, LogDownload, LogPage, LogQuery, ManagementRuntime } from './types';

/** Options of {@link fileLogs}. */
export interface FileLogsOptions {
  /** The current log's file name. Default: `main.log`. */
  readonly mainFile?: string;
}

/** The hooks {@link fileLogs} provides. */
export type FileLogs = Required<
  Pick<
    ManagementRuntime,
    'readLogs' | 'clearLogs' | 'listErrorLogs' | 'openErrorLog' | 'openRequestLog'
  >
>;

const STAMP = /^\[?(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})/;
/** Bytes at each end of the read part of a file that identify it in a cursor. */
const PRINT_BYTES = 4096;

/** Unix seconds of a line's `[YYYY-MM-DD HH:MM:SS]` stamp (server time zone), or 0. */
export function lineTime(line: string): number {
  const m = STAMP.exec(line);
  if (!m) return 0;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const t = new Date(y as number, (mo as number) - 1, d, h, mi, s).getTime();
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}

interface LogFile {
  readonly name: string;
  /** Lower is older. */
  readonly order: number;
}

/** The main log and its plain-text rotations, oldest first. */
async function logFiles(dir: string, main: string): Promise<LogFile[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const base = main.replace(/\.log$/, '');
  const files: LogFile[] = [];
  for (const name of names) {
    if (name === main) files.push({ name, order: Number.MAX_SAFE_INTEGER });
    else if (name.startsWith(`${main}.`) && /^\d{1,9}$/.test(name.slice(main.length + 1))) {
      files.push({ name, order: -Number(name.slice(main.length + 1)) }); // main.log.1 is newer than main.log.2
    } else {
      const m = new RegExp(
        `^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2})-(\\d{2})-(\\d{2})(?:\\.\\d+)?\\.log$`,
      ).exec(name);
      if (m) {
        const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
        files.push({
          name,
          order: new Date(y as number, (mo as number) - 1, d, h, mi, s).getTime() - 1e13,
        });
      }
    }
  }
  return files.sort((a, b) => a.order - b.order);
}

/** The whole lines of `data` from `start`, and where the last whole line ends. */
function wholeLines(data: Buffer, start: number): { lines: string[]; end: number } {
  const end = data.lastIndexOf(0x0a) + 1;
  if (end <= start) return { lines: [], end: start };
  const text = data.subarray(start, end - 1).toString('utf8');
  return { lines: text.split('\n').map((l) => l.replace(/\r$/, '')), end };
}

/** A fingerprint of `data` up to `offset`: its first and last bytes before it. */
function fingerprint(data: Buffer, offset: number): string {
  const hash = createHash('sha256');
  hash.update(`${offset}:`);
  hash.update(data.subarray(0, Math.min(offset, PRINT_BYTES)));
  hash.update(data.subarray(Math.max(0, offset - PRINT_BYTES), offset));
  return hash.digest('base64url').slice(0, 16);
}

interface Cursor {
  readonly f: string;
  readonly o: number;
  readonly h: string;
}

const encodeCursor = (c: Cursor): string => Buffer.from(JSON.stringify(c)).toString('base64url');

function decodeCursor(raw: string): Cursor | undefined {
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Cursor>;
    if (
      typeof c.f === 'string' &&
      typeof c.o === 'number' &&
      Number.isSafeInteger(c.o) &&
      c.o >= 0 &&
      typeof c.h === 'string'
    )
      return c as Cursor;
  } catch {
    // not one of ours
  }
  return undefined;
}

async function readFile(dir: string, name: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(path.join(dir, name));
  } catch {
    return undefined;
  }
}

/** Keep the lines stamped after `after` (unstamped lines follow the stamped line before them). */
function since(lines: readonly string[], after: number | undefined): string[] {
  if (after === undefined) return [...lines];
  const out: string[] = [];
  let keep = false;
  for (const line of lines) {
    const t = lineTime(line);
    if (t > 0) keep = t > after;
    if (keep) out.push(line);
  }
  return out;
}

const newest = (lines: readonly string[]): number =>
  lines.reduce((max, l) => Math.max(max, lineTime(l)), 0);

/**
 * The five log hooks (`readLogs`, `clearLogs`, `listErrorLogs`, `openErrorLog`, `openRequestLog`)
 * over `dir`, laid out as the Go server writes it, so a host that writes those files needs no
 * code of its own. `readLogs` answers the last `limit` lines (after `after` when given) and a
 * cursor at the end of the last whole line; with that cursor it answers only what was appended
 * since, following the file when it was rotated (renamed to `main.log.1` or
 * `main-<time>.log`), and starts afresh (`cursorReset`) when it cannot find where it was.
 * `clearLogs` empties `main.log` and removes its rotations.
 *
 * @example
 * ```ts
 * createManagementRouter(cfg, auths, { runtime: { ...fileLogs('./logs') } });
 * ```
 */
export function fileLogs(dir: string, options: FileLogsOptions = {}): FileLogs {
  const main = options.mainFile ?? 'main.log';

  async function readLogs(query: LogQuery): Promise<LogPage> {
    const files = await logFiles(dir, main);
    const datas = new Map<string, Buffer>();
    const data = async (name: string): Promise<Buffer | undefined> => {
      if (!datas.has(name)) {
        const d = await readFile(dir, name);
        if (d) datas.set(name, d);
      }
      return datas.get(name);
    };
    /** The cursor at the end of the newest file's last whole line. */
    const tailCursor = async (): Promise<string> => {
      const last = files[files.length - 1];
      const d = last && (await data(last.name));
      if (!last || !d) return '';
      const end = d.lastIndexOf(0x0a) + 1;
      return encodeCursor({ f: last.name, o: end, h: fingerprint(d, end) });
    };

    let reset = false;
    if (query.cursor !== undefined) {
      const cursor = decodeCursor(query.cursor);
      // Where the cursor was: the same name first, then a rotation holding the same bytes.
      const candidates = cursor
        ? [
            ...files.filter((f) => f.name === cursor.f),
            ...files.filter((f) => f.name !== cursor.f).reverse(),
          ]
        : [];
      for (const file of candidates) {
        const d = await data(file.name);
        if (!cursor || !d || d.length < cursor.o || fingerprint(d, cursor.o) !== cursor.h) continue;
        const first = wholeLines(d, cursor.o);
        const lines: string[] = [...first.lines];
        let at = { name: file.name, end: first.end, data: d };
        for (const newer of files.filter((f) => f.order > file.order)) {
          const nd = await data(newer.name);
          if (!nd) continue;
          const read = wholeLines(nd, 0);
          lines.push(...read.lines);
          at = { name: newer.name, end: read.end, data: nd };
        }
        const kept = lines.slice(-query.limit);
        return {
          lines: kept,
          latestTimestamp: Math.max(newest(kept), query.after ?? 0),
          nextCursor: encodeCursor({ f: at.name, o: at.end, h: fingerprint(at.data, at.end) }),
        };
      }
      reset = true;
    }

    // A tail read: newest file first, until `limit` lines are held.
    let lines: string[] = [];
    for (const file of [...files].reverse()) {
      const d = await data(file.name);
      if (!d) continue;
      const read = since(wholeLines(d, 0).lines, query.after);
      lines = [...read, ...lines];
      if (lines.length >= query.limit) break;
    }
    const kept = lines.slice(-query.limit);
    return {
      lines: kept,
      latestTimestamp: Math.max(newest(kept), query.after ?? 0),
      nextCursor: await tailCursor(),
      ...(reset ? { cursorReset: true } : {}),
    };
  }

  async function clearLogs(): Promise<{ removed: number }> {
    let removed = 0;
    for (const file of await logFiles(dir, main)) {
      const p = path.join(dir, file.name);
      if (file.name === main) await fs.truncate(p, 0).catch(() => undefined);
      else if (
        await fs.rm(p).then(
          () => true,
          () => false,
        )
      )
        removed++;
    }
    return { removed };
  }

  async function listErrorLogs(): Promise<ErrorLogFile[]> {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return [];
    }
    const out: ErrorLogFile[] = [];
    for (const name of names.filter((n) => n.startsWith('error-') && n.endsWith('.log'))) {
      const stat = await fs.lstat(path.join(dir, name)).catch(() => undefined);
      if (stat?.isFile())
        out.push({ name, size: stat.size, modified: Math.floor(stat.mtimeMs / 1000) });
    }
    return out;
  }

  async function openErrorLog(name: string): Promise<LogDownload | undefined> {
    return (await fs.lstat(path.join(dir, name)).catch(() => undefined))?.isFile()
      ? { path: path.join(dir, name) }
      : undefined;
  }

  async function openRequestLog(id: string): Promise<LogDownload | undefined> {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return undefined;
    }
    const name = names.sort().find((n) => n.endsWith(`-${id}.log`) && n !== main);
    return name ? { path: path.join(dir, name), name } : undefined;
  }

  return { readLogs, clearLogs, listErrorLogs, openErrorLog, openRequestLog };
}
