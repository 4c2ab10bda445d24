// The file engine's history: a journal of JSON lines next to the config (`config.yaml.history`,
// mode 0600). See README.md beside this file for how it stays true to the config after a crash.
import { createHash } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import type { Logger } from '../types';
import { atomicWrite } from '../engines/file/atomic-write';
import { publicEntry, type Draft, type StoredEntry } from './entry';
import { idNumber, type HistoryLimits, type HistoryPage, type HistoryReader } from './journal';

/** A short digest of a config text: tells which text a group of entries led to (never the key: the text's digest). */
export function textDigest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** One entry line: the entry, its group (the id of the group's last entry) and the group's before/after digests. */
interface Line {
  readonly entry: StoredEntry;
  readonly g: string;
  readonly b: string;
  readonly a: string;
  readonly text: string;
}

/** A group written ahead of its config write. */
export interface Staged {
  readonly ids: readonly string[];
  readonly g: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A group of entries is written (and fsynced) before the config file is renamed into place, and
 * marked `{"ok": g}` after; a group counts only once it is known to be in the config: marked, or
 * followed by a group that started from its text, or the last one and the config is its text.
 * So after a crash at any instant no entry shows a change the file does not hold, and every
 * acknowledged change (acknowledged after the mark) has its entry.
 */
export class FileJournal implements HistoryReader {
  private lines: Line[] = [];
  private readonly ok = new Set<string>();
  private readonly voided = new Set<string>();
  private maxId = 0;
  private offset = 0;
  private ino: number | undefined;
  private size = 0;
  private damaged = 0;
  private syncing: Promise<void> = Promise.resolve();
  private view: { key: string; lines: Line[] } | undefined;

  constructor(
    readonly file: string,
    private readonly limits: HistoryLimits,
    private readonly logger: Logger,
    /** The digest of the config text the store holds now. */
    private readonly currentDigest: () => string,
  ) {}

  async list(limit: number, before?: string): Promise<HistoryPage> {
    await this.sync();
    const shown = this.visible();
    const below = before === undefined ? Infinity : (idNumber(before) ?? 0);
    const older = shown.filter((l) => Number(l.entry.id) < below);
    const page = older.slice(-limit).reverse();
    const next = older.length > limit ? (page.at(-1)?.entry.id ?? null) : null;
    return { entries: page.map((l) => publicEntry(l.entry)), next };
  }

  async get(id: string): Promise<StoredEntry | undefined> {
    await this.sync();
    return this.visible().find((l) => l.entry.id === id)?.entry;
  }

  /** Whether the newest group of the journal (maybe another process's) leads to `text`: then it is recorded already. */
  async leadsTo(text: string): Promise<boolean> {
    await this.sync();
    return this.lines.at(-1)?.a === textDigest(text);
  }

  /** Write a group's entries durably, ahead of the config write that makes them true. */
  async stage(drafts: readonly Draft[], before: string, after: string): Promise<Staged> {
    await this.sync();
    const b = textDigest(before);
    const a = textDigest(after);
    const ids = drafts.map((_, i) => String(this.maxId + 1 + i));
    const g = ids.at(-1) as string;
    const text = drafts
      .map((d, i) => `${JSON.stringify({ id: ids[i], ...d, g, b, a })}\n`)
      .join('');
    await this.append(text, true);
    return { ids, g };
  }

  /** The group's config write is durable: mark it (no fsync of its own: the config's fsync came first). */
  async landed(staged: Staged): Promise<void> {
    await this.append(`${JSON.stringify({ ok: staged.g })}\n`, false);
    await this.compactIfLarge();
  }

  /** The group's config write failed: mark it void (best effort: an unmarked group whose text never came counts as not written). */
  async abort(staged: Staged): Promise<void> {
    await this.append(`${JSON.stringify({ void: staged.g })}\n`, false).catch(() => undefined);
  }

  private async append(text: string, durable: boolean): Promise<void> {
    const handle = await fs.open(
      this.file,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
      0o600,
    );
    try {
      await handle.writeFile(text);
      if (durable) await handle.datasync();
    } finally {
      await handle.close();
    }
    await this.sync();
  }

  /** Read what was appended since the last read (by any process); a replaced file is read again whole. */
  private sync(): Promise<void> {
    const run = this.syncing.then(() => this.readNew());
    this.syncing = run.catch(() => undefined);
    return run;
  }

  private async readNew(): Promise<void> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.file, constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        if (this.ino !== undefined) this.reset();
        return;
      }
      throw err;
    }
    try {
      const st = await handle.stat();
      if (st.ino !== this.ino || st.size < this.offset) {
        this.reset();
        this.ino = st.ino;
      }
      this.size = st.size;
      if (st.size === this.offset) return;
      const buf = Buffer.alloc(st.size - this.offset);
      const { bytesRead } = await handle.read(buf, 0, buf.length, this.offset);
      const chunk = buf.subarray(0, bytesRead);
      const end = chunk.lastIndexOf(0x0a);
      if (end < 0) return; // a line still being written
      this.offset += end + 1;
      this.parse(chunk.subarray(0, end).toString('utf8'));
      this.view = undefined;
    } finally {
      await handle.close();
    }
  }

  private reset(): void {
    this.lines = [];
    this.ok.clear();
    this.voided.clear();
    this.offset = 0;
    this.ino = undefined;
    this.view = undefined;
  }

  private parse(text: string): void {
    let bad = 0;
    for (const raw of text.split('\n')) {
      if (raw.trim() === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(raw);
      } catch {
        bad++;
        continue;
      }
      if (!isRecord(v)) {
        bad++;
      } else if (typeof v.ok === 'string') this.ok.add(v.ok);
      else if (typeof v.void === 'string') this.voided.add(v.void);
      else if (typeof v.ids === 'string' && idNumber(v.ids) !== undefined)
        this.maxId = Math.max(this.maxId, Number(v.ids));
      else if (
        typeof v.id === 'string' &&
        idNumber(v.id) !== undefined &&
        typeof v.g === 'string' &&
        typeof v.b === 'string' &&
        typeof v.a === 'string' &&
        typeof v.time === 'string' &&
        typeof v.source === 'string'
      ) {
        const { g, b, a, ...entry } = v;
        this.lines.push({ entry: entry as unknown as StoredEntry, g, b, a, text: raw });
        this.maxId = Math.max(this.maxId, Number(v.id));
      } else bad++;
    }
    if (bad > 0) {
      this.damaged += bad;
      this.logger.warn(
        `cli-proxy-management: ${bad} damaged line(s) of the history journal skipped`,
      );
    }
  }

  /** The entries known to be in the config, within the limits, oldest first. */
  private visible(): Line[] {
    const digest = this.currentDigest();
    const key = `${this.lines.length}:${this.ok.size}:${this.voided.size}:${digest}`;
    if (this.view?.key === key) return this.view.lines;
    const groups: { g: string; b: string; a: string; lines: Line[] }[] = [];
    for (const line of this.lines) {
      const last = groups.at(-1);
      if (last && last.g === line.g) last.lines.push(line);
      else groups.push({ g: line.g, b: line.b, a: line.a, lines: [line] });
    }
    const landed: Line[] = [];
    groups.forEach((group, i) => {
      if (this.voided.has(group.g) && !this.ok.has(group.g)) return;
      const next = groups[i + 1];
      const inFile = this.ok.has(group.g) || (next ? next.b === group.a : digest === group.a);
      if (inFile) landed.push(...group.lines);
    });
    let bytes = 0;
    let from = landed.length;
    while (from > 0 && landed.length - from < this.limits.maxEntries) {
      const size = Buffer.byteLength((landed[from - 1] as Line).text) + 1;
      if (bytes + size > this.limits.maxBytes) break;
      bytes += size;
      from--;
    }
    const lines = landed.slice(from);
    this.view = { key, lines };
    return lines;
  }

  /** Rewrite the journal with only what is kept, once it holds twice the limits (under the config's lock). */
  private async compactIfLarge(): Promise<void> {
    if (this.lines.length <= 2 * this.limits.maxEntries && this.size <= 2 * this.limits.maxBytes)
      return;
    const kept = this.visible();
    let text = `${JSON.stringify({ ids: String(this.maxId) })}\n`;
    const groups = new Set<string>();
    for (const line of kept) {
      text += `${line.text}\n`;
      groups.add(line.g);
    }
    for (const g of groups) text += `${JSON.stringify({ ok: g })}\n`;
    if (this.damaged > 0)
      this.logger.warn(
        `cli-proxy-management: the history journal was rewritten without its ${this.damaged} damaged line(s)`,
      );
    this.damaged = 0;
    await atomicWrite(this.file, text, 0o600);
    await this.sync();
  }
}
