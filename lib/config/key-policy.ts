import type { Logger } from '../types';
import type { ConfigStore } from './config-store';
import { StoreError } from './errors';
import { configuredSecret, hashSecret, isBcryptHash, replaceSecret } from './secret';

/**
 * Keeps a plaintext management key replaced by its bcrypt hash in the config. The returned
 * function is run at start and after every change; it hashes the key (off the event loop) and
 * writes the hash only while the config still holds that same plaintext. A failed write is
 * logged (never with the key) and retried at the next change; until then the plaintext is
 * compared in memory. A key behind a YAML alias is hashed at its anchor (see `replaceSecret`); a
 * key over 72 bytes is never hashed: it is reported through `logger.error` (else `warn`) at
 * every run, and the API stays disabled.
 */
export function keyHasher(store: ConfigStore, bcryptRounds: number, logger: Logger): () => Promise<void> {
  let inFlight: string | undefined;
  return async () => {
    const { path, value, refused } = configuredSecret(store.config);
    if (refused) {
      const log = logger.error?.bind(logger) ?? logger.warn.bind(logger);
      log(`cli-proxy-management: ${refused}; the Management API stays disabled until a shorter key is set`);
      return;
    }
    if (value === '' || isBcryptHash(value) || inFlight === value) return;
    inFlight = value;
    try {
      const hash = await hashSecret(value, bcryptRounds);
      await store.mutate((doc) => replaceSecret(doc, path, value, hash));
    } catch (err) {
      const reason = err instanceof StoreError ? err.reason || err.code : 'error';
      logger.warn(`cli-proxy-management: could not store the hashed management key (${reason}); it is compared in memory until then`);
    } finally {
      inFlight = undefined;
    }
  };
}
