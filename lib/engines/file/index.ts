import { checkOptionNames, integerOption } from '../../option-check';
import type { Storage } from '../spi';
import { FileConfigBackend } from './config-file';
import { cleanupStaleLock, properFileLock } from './file-lock';
import { FolderTokenStore } from './token-folder';

/** Options of {@link fileStorage}. */
export interface FileStorageOptions {
  /**
   * Cross-process lock of the config file (a `<config>.lock` folder next to it, with
   * `proper-lockfile`): a lock left by a process that died is taken over once it has not been
   * refreshed for this many ms (the holder refreshes it every half of that). A writer waits for
   * the lock up to three times this long, then fails. An integer >= `2000` (less throws
   * `ERR_INVALID_OPTION`, like the router's option of the same name). Default: `10000`.
   */
  readonly lockStaleMs?: number;
}

/**
 * The default storage engine: the YAML file at `configPath` and the folder `authDir`, on this
 * machine. Several processes may share them (a cross-process lock serialises writes).
 *
 * @throws {ManagementError} `ERR_INVALID_OPTION` at once for an option that is not valid.
 */
export function fileStorage(options: FileStorageOptions = {}): Storage {
  checkOptionNames('fileStorage', options, ['lockStaleMs']);
  const staleMs = integerOption('lockStaleMs', options.lockStaleMs, 10_000, 2000);
  return {
    open({ configPath, authDir, watch, logger, history }) {
      const lock = properFileLock({ staleMs, timeoutMs: 3 * staleMs, logger });
      const config = new FileConfigBackend(configPath, { watch, logger, lock, history });
      let tokens: FolderTokenStore;
      try {
        tokens = new FolderTokenStore(authDir);
      } catch (err) {
        void config.close(); // a bad folder must not leave a watcher behind
        throw err;
      }
      config.inBackground(cleanupStaleLock(config.file, staleMs));
      return { config, tokens };
    },
  };
}
