import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from './spi';

/** A running watch of one file: {@link watchFile}. */
export interface FileWatch {
  /** Stop watching (pending calls are dropped). */
  close(): void;
}

/**
 * Call `onChange` (debounced by 20 ms) whenever `file` may have changed: its folder is watched,
 * so an editor's save by rename and a file created later are seen too. A watcher that fails is
 * closed with one warning (`what` names the file in it); the engine then notices changes at
 * its next load only. The one file watcher of every engine.
 */
export function watchFile(
  file: string,
  what: string,
  logger: Logger,
  onChange: () => void,
): FileWatch {
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const schedule = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) onChange();
    }, 20);
    timer.unref();
  };
  try {
    const base = path.basename(file);
    watcher = watch(path.dirname(file), { persistent: false }, (_event, name) => {
      if (name === null || name === base) schedule();
    });
    watcher.on('error', () => {
      logger.warn(
        `cli-proxy-management: ${what} watcher failed; changes on disk are picked up at the next write only`,
      );
      watcher?.close();
      watcher = undefined;
    });
  } catch {
    logger.warn(
      `cli-proxy-management: cannot watch the ${what}; changes on disk are picked up at the next write only`,
    );
  }
  return {
    close() {
      closed = true;
      watcher?.close();
      watcher = undefined;
      if (timer) clearTimeout(timer);
    },
  };
}
