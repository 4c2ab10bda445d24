import { promises as fs } from 'node:fs';
import { loadSync } from '../../load-sync';
import type { Logger } from '../spi';
import type { FileLock } from './config-file';

/** Settings of {@link properFileLock}. */
export interface FileLockSettings {
  /**
   * A lock whose folder was not touched for this long is taken to belong to a dead process and
   * is removed by the next writer. The holder refreshes it every `staleMs / 2`.
   * proper-lockfile's minimum is 2000.
   */
  readonly staleMs: number;
  /** Give up (the mutation fails with a 500) after waiting this long for the lock. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/**
 * proper-lockfile, loaded on the first write (a host that only reads does not pay for it), with
 * `require` (`loadSync`): jest's module VM refuses a dynamic `import()` in CommonJS.
 */
let lockfileModule: typeof import('proper-lockfile') | undefined;
const lockfile = async (): Promise<typeof import('proper-lockfile')> =>
  (lockfileModule ??= loadSync('proper-lockfile') as typeof import('proper-lockfile'));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A lock error without the file path (messages end up in 500 bodies). */
function lockError(err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return new Error(code === 'ELOCKED' ? 'timed out waiting for the lock' : (code ?? 'error'));
}

/**
 * A cross-process lock on `file` with `proper-lockfile`: an atomic `mkdir` of `<file>.lock`,
 * whose mtime the holder refreshes while it holds it, so the lock of a process that died (even
 * by SIGKILL) goes stale after `staleMs` and is taken over. Contended acquisitions are retried
 * with a short jittered back-off until `timeoutMs`.
 */
export function properFileLock(settings: FileLockSettings): FileLock {
  const stale = Math.max(2000, settings.staleMs);
  return async (file) => {
    const { lock } = await lockfile();
    const deadline = Date.now() + settings.timeoutMs;
    let delay = 2;
    for (;;) {
      try {
        const release = await lock(file, {
          stale,
          realpath: false,
          retries: 0,
          onCompromised: () => {
            settings.logger.warn(
              'cli-proxy-management: the config file lock was taken over while held (the process stalled longer than the stale time)',
            );
          },
        });
        return async () => {
          try {
            await release();
          } catch {
            // Already released or taken over (reported by onCompromised).
          }
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ELOCKED' || Date.now() >= deadline)
          throw lockError(err);
        await sleep(delay + Math.random() * delay);
        delay = Math.min(delay * 2, 50);
      }
    }
  };
}

/**
 * Remove `<file>.lock` when it is stale (untouched for `staleMs`: its holder is dead), so a
 * crash leaves nothing behind once the next process starts. It is done by taking the lock once
 * (proper-lockfile takes a stale lock over) and releasing it at once, so it cannot remove a lock
 * that another process has just taken; a fresh lock is left alone (if its holder is dead, the
 * next writer takes it over once it goes stale). Returns whether a stale lock was removed.
 */
export async function cleanupStaleLock(file: string, staleMs: number): Promise<boolean> {
  const stale = Math.max(2000, staleMs);
  try {
    const st = await fs.lstat(`${file}.lock`);
    if (!st.isDirectory() || st.mtimeMs >= Date.now() - stale) return false;
    const release = await (
      await lockfile()
    ).lock(file, { stale, realpath: false, retries: 0, onCompromised: () => undefined });
    await release();
    return true;
  } catch {
    return false;
  }
}
