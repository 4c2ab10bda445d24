// The key policy, once for every engine: a plaintext management key is never stored. A write
// that sets a new plaintext key stores its bcrypt hash instead (hashed before the engine is
// asked to save, so no lock or transaction is held while bcrypt runs); a plaintext key that
// arrived from outside (an edit on disk) is replaced by its hash after the change, by a write of
// its own.
import { saveFailed, StoreError } from '../engines/errors';
import type { Logger } from '../engines/spi';
import { applyGroup, deepFreeze, type Mutation, type Parsed } from './group';
import {
  BCRYPT_MAX_BYTES,
  configuredSecret,
  hashSecret,
  isBcryptHash,
  overBcryptLimit,
  readAliased,
  replaceSecret,
  SECRET_PATHS,
} from './secret';
import { Snapshot } from './typed';
import { SYSTEM, type Origin } from '../history/origin';
import type { ProxyConfig } from '../types';

/** `parsed`'s snapshot (the one it carries, else read now). */
export function snapshotOf(parsed: Parsed): Snapshot {
  return new Snapshot(
    parsed.snapshot ?? deepFreeze((parsed.parsed.doc.toJS() ?? {}) as ProxyConfig),
    parsed.text,
  );
}

/** The key as written at its location (plaintext, hash, or `''`), refused or not. */
function writtenKey(snapshot: Snapshot): { path: readonly string[]; value: string } {
  const { path } = readAliased(snapshot.config, SECRET_PATHS);
  return { path, value: (snapshot.read(path, 'string').value as string).trim() };
}

/**
 * `next` as it may be stored: when it sets a plaintext key that `base` did not hold, that key
 * replaced by its bcrypt hash (at its anchor when it is reached through an alias). A new key
 * over bcrypt's 72 bytes, or one that cannot be replaced (an anchor other values share), is
 * refused with `SAVE_FAILED`: it would be stored in plaintext.
 */
export async function sealKey(
  base: Snapshot | undefined,
  next: Parsed,
  rounds: number,
): Promise<Parsed> {
  const { path, value } = writtenKey(snapshotOf(next));
  if (value === '' || isBcryptHash(value)) return next;
  if (base && writtenKey(base).value === value) return next; // already stored so (see keyUpkeep)
  if (overBcryptLimit(value))
    throw saveFailed(`the management key is longer than ${BCRYPT_MAX_BYTES} bytes (UTF-8)`);
  const hash = await hashSecret(value, rounds);
  const replaced = applyGroup(next, [
    {
      edit: { doc: (doc) => replaceSecret(doc, path, value, hash) },
      resolve: () => undefined,
      reject: () => undefined,
    },
  ]);
  const stored = replaced.next ?? next;
  if (replaced.failed.length > 0 || writtenKey(snapshotOf(stored)).value !== hash)
    throw saveFailed('the management key could not be replaced by its hash');
  return stored;
}

/** What {@link keyUpkeep} needs of the store. */
export interface KeyedStore {
  readonly snapshot: Snapshot;
  mutate(fn: Mutation, origin?: Origin): Promise<unknown>;
}

/**
 * Keeps a plaintext management key that arrived from outside replaced by its bcrypt hash. The
 * returned function is run at start and after every change; it hashes the key (off the event
 * loop) and writes the hash only while the config still holds that same plaintext. A failed
 * write is logged (never with the key) and retried at the next change; until then the plaintext
 * is compared in memory. A key over 72 bytes is never hashed: it is reported through
 * `logger.error` (else `warn`) at every run, and the API stays disabled.
 */
export function keyUpkeep(
  store: KeyedStore,
  bcryptRounds: number,
  logger: Logger,
): () => Promise<void> {
  let inFlight: string | undefined;
  return async () => {
    const { path, value, refused } = configuredSecret(store.snapshot);
    if (refused) {
      const log = logger.error?.bind(logger) ?? logger.warn.bind(logger);
      log(
        `cli-proxy-management: ${refused}; the Management API stays disabled until a shorter key is set`,
      );
      return;
    }
    if (value === '' || isBcryptHash(value) || inFlight === value) return;
    inFlight = value;
    try {
      const hash = await hashSecret(value, bcryptRounds);
      await store.mutate((doc) => replaceSecret(doc, path, value, hash), SYSTEM);
    } catch (err) {
      const reason = err instanceof StoreError ? err.reason || err.code : 'error';
      logger.warn(
        `cli-proxy-management: could not store the hashed management key (${reason}); it is compared in memory until then`,
      );
    } finally {
      inFlight = undefined;
    }
  };
}
