import { randomBytes } from 'node:crypto';
import { promises as fs, constants, type Stats } from 'node:fs';
import path from 'node:path';

/** Temp files are named `.<base>.cpm-<pid>-<random>.tmp`, so a crash's leftovers can be recognised. */
const TEMP_RE = /^\.(.+)\.cpm-\d+-[0-9a-f]+\.tmp$/;

/**
 * The part of a file's name that its temp names carry: the whole name, or its first 200 bytes
 * (cut on a character boundary), so a temp name stays under the usual 255-byte limit of a name.
 */
function tempBase(base: string): string {
  if (Buffer.byteLength(base) <= 200) return base;
  let cut = '';
  for (const ch of base) {
    if (Buffer.byteLength(cut + ch) > 200) break;
    cut += ch;
  }
  return cut;
}

export function tempNameFor(file: string): string {
  const dir = path.dirname(file);
  return path.join(
    dir,
    `.${tempBase(path.basename(file))}.cpm-${process.pid}-${randomBytes(6).toString('hex')}.tmp`,
  );
}

/** Options of {@link atomicWrite}. */
export interface AtomicWriteOptions {
  /**
   * Give the new file the mode of the regular file it replaces (the config file's owner may
   * have chosen 0640). When `false`, the new file always gets `newFileMode`. Default: `true`.
   */
  readonly keepMode?: boolean;
  /**
   * Called after the temp file is durable, right before the rename: the last moment to look at
   * the file about to be replaced (the PostgreSQL engine picks up a hand edit of its mirror
   * there). A throw aborts the write; the temp file is removed.
   */
  readonly beforeRename?: () => Promise<void>;
}

/**
 * Write `data` to `file` so that a crash at any instant leaves the old file or the new one:
 * temp file in the same folder (created 0600, `O_EXCL`), write, fsync, set the old file's mode,
 * rename over the target, fsync the folder so the rename itself is durable.
 *
 * Hand-written rather than `write-file-atomic`: its current major (8) requires Node 22, it does
 * not fsync the folder after the rename, and its temp names cannot be told apart from a user's
 * own `config.yaml.1` when cleaning up after a crash.
 *
 * The target is looked at with `lstat`, never followed: the rename replaces whatever entry has
 * the name (a symlink there is replaced, its target never written), and only a regular file's
 * mode is kept. Callers that must not replace a symlink check before calling.
 */
export async function atomicWrite(
  file: string,
  data: string | Uint8Array,
  newFileMode = 0o600,
  options: AtomicWriteOptions = {},
): Promise<Stats> {
  let mode = newFileMode;
  if (options.keepMode ?? true) {
    try {
      const st = await fs.lstat(file);
      if (st.isFile()) mode = st.mode & 0o7777;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const tmp = tempNameFor(file);
  const handle = await fs.open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
    0o600,
  );
  let written: Stats;
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
      if (mode !== 0o600) await handle.chmod(mode);
      written = await handle.stat();
    } finally {
      await handle.close();
    }
    await options.beforeRename?.();
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDir(path.dirname(file));
  return written;
}

async function syncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await handle?.close();
  }
}

/** Remove temp files of `file` that a crashed writer left behind. Returns how many were removed. */
export function cleanupTempFiles(file: string): Promise<number> {
  const base = tempBase(path.basename(file));
  return removeStaleTempFiles(path.dirname(file), (b) => b === base);
}

/**
 * Remove the temp files that crashed writers left in `dir`, whatever file they were for (the
 * auth-file folder, where any name may have been uploaded). Returns how many were removed.
 */
export function cleanupTempFilesIn(dir: string): Promise<number> {
  return removeStaleTempFiles(dir, () => true);
}

/** Regular files named like our temp files, whose writing process is gone. */
async function removeStaleTempFiles(
  dir: string,
  forBase: (base: string) => boolean,
): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = TEMP_RE.exec(name);
    if (!m?.[1] || !forBase(m[1])) continue;
    const pid = Number(/cpm-(\d+)-[0-9a-f]+\.tmp$/.exec(name)?.[1]);
    if (isAlive(pid)) continue; // a live process (maybe this one) may be writing it
    try {
      const st = await fs.lstat(path.join(dir, name));
      if (!st.isFile()) continue;
      await fs.rm(path.join(dir, name), { force: true });
      removed++;
    } catch {
      // gone already
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
