import bcrypt from 'bcrypt';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ProxyConfig } from '../types';

/** The canonical key path and the documented alias of the management key and the remote flag. */
export const SECRET_PATHS = { canonical: ['remote-management', 'secret-key'], alias: ['remote-management-key'] } as const;
export const REMOTE_PATHS = { canonical: ['remote-management', 'allow-remote'], alias: ['allow-remote-management'] } as const;

type Paths = { readonly canonical: readonly string[]; readonly alias: readonly string[] };

function lookup(config: unknown, keys: readonly string[]): { found: boolean; value: unknown } {
  let node: unknown = config;
  for (const k of keys) {
    if (!node || typeof node !== 'object' || Array.isArray(node) || !Object.prototype.hasOwnProperty.call(node, k)) {
      return { found: false, value: undefined };
    }
    node = (node as Record<string, unknown>)[k];
  }
  return { found: true, value: node };
}

/** The value at the canonical path when that key exists, else at the alias. */
export function readAliased(config: ProxyConfig, paths: Paths): { path: readonly string[]; value: unknown } {
  const canonical = lookup(config, paths.canonical);
  if (canonical.found) return { path: paths.canonical, value: canonical.value };
  return { path: paths.alias, value: lookup(config, paths.alias).value };
}

/** The configured management key (plaintext or hash), `''` when none. */
export function configuredSecret(config: ProxyConfig): { path: readonly string[]; value: string } {
  const { path, value } = readAliased(config, SECRET_PATHS);
  return { path, value: typeof value === 'string' ? value.trim() : '' };
}

export function allowRemote(config: ProxyConfig): boolean {
  return readAliased(config, REMOTE_PATHS).value === true;
}

const HASH_RE = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export const isBcryptHash = (value: string): boolean => HASH_RE.test(value);

export const hashSecret = (plain: string, rounds: number): Promise<string> => bcrypt.hash(plain, rounds);

/**
 * Checks presented keys against the stored key. A key that verified once is remembered as an
 * HMAC under a per-process random key (never the key itself), for as long as the stored value
 * stays the same; so the steady state costs one HMAC, not one bcrypt. A wrong key is never
 * remembered and always pays the full bcrypt cost.
 */
export class SecretVerifier {
  private readonly hmacKey = randomBytes(32);
  private cachedFor: string | undefined;
  private cachedDigest: Buffer | undefined;

  private digest(presented: string): Buffer {
    return createHmac('sha256', this.hmacKey).update(presented).digest();
  }

  async verify(presented: string, stored: string): Promise<boolean> {
    const digest = this.digest(presented);
    if (this.cachedFor === stored && this.cachedDigest && timingSafeEqual(digest, this.cachedDigest)) return true;
    let ok: boolean;
    if (isBcryptHash(stored)) {
      ok = await bcrypt.compare(presented, stored);
    } else {
      // A plaintext key not yet replaced by its hash (start-up, or the file is read-only).
      ok = timingSafeEqual(digest, this.digest(stored));
    }
    if (ok) {
      this.cachedFor = stored;
      this.cachedDigest = digest;
    }
    return ok;
  }
}
