import * as crypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
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

/**
 * Answers derived from one config snapshot. The store's snapshots are deep-frozen and replaced
 * on every change, so an answer for a frozen object stays true for as long as that object lives:
 * the access checks of every request then cost one `WeakMap` lookup, not two path walks.
 */
interface Derived {
  readonly secret: { readonly path: readonly string[]; readonly value: string };
  readonly allowRemote: boolean;
}
const derivedMemo = new WeakMap<object, Derived>();

function derive(config: ProxyConfig): Derived {
  const known = derivedMemo.get(config);
  if (known) return known;
  const { path, value } = readAliased(config, SECRET_PATHS);
  const derived: Derived = {
    secret: Object.freeze({ path, value: typeof value === 'string' ? value.trim() : '' }),
    allowRemote: readAliased(config, REMOTE_PATHS).value === true,
  };
  if (Object.isFrozen(config)) derivedMemo.set(config, derived);
  return derived;
}

/** The configured management key (plaintext or hash), `''` when none. */
export function configuredSecret(config: ProxyConfig): { readonly path: readonly string[]; readonly value: string } {
  return derive(config).secret;
}

export function allowRemote(config: ProxyConfig): boolean {
  return derive(config).allowRemote;
}

const HASH_RE = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export const isBcryptHash = (value: string): boolean => HASH_RE.test(value);

/** bcrypt (a native addon), loaded on first use: a host that never sees a key does not pay for it. */
let bcryptModule: Promise<typeof import('bcrypt')> | undefined;
const bcrypt = (): Promise<typeof import('bcrypt')> => (bcryptModule ??= import('bcrypt').then((m) => (m as { default?: typeof import('bcrypt') }).default ?? m));

export const hashSecret = async (plain: string, rounds: number): Promise<string> => (await bcrypt()).hash(plain, rounds);

/** `crypto.hash` (one-shot, Node 20.12+ and 21.7+), or `undefined` on older Node 20. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }).hash;

/**
 * Checks presented keys against the stored key. A key that verified once is remembered as a
 * keyed digest (never the key itself), for as long as the stored value stays the same; so the
 * steady state costs one digest, not one bcrypt. A wrong key is never remembered and always
 * pays the full bcrypt cost.
 *
 * The digest is SHA-256 over a per-process random 256-bit prefix and the presented key. It is
 * computed on every request, and the one-shot `crypto.hash` costs about 40% of an HMAC (whose
 * extra construction protects a published tag against length extension; this digest is never
 * published: it lives only in this object). Without the prefix nobody can compute it offline.
 */
export class SecretVerifier {
  private readonly prefix = randomBytes(32).toString('hex');
  private cachedFor: string | undefined;
  private cachedDigest: Buffer | undefined;

  private digest(presented: string): Buffer {
    if (oneShotHash) return oneShotHash('sha256', this.prefix + presented, 'buffer');
    return createHash('sha256').update(this.prefix + presented).digest();
  }

  /** Synchronous fast path: whether `presented` is the key that last verified against `stored`. */
  verified(presented: string, stored: string): boolean {
    return this.cachedFor === stored && !!this.cachedDigest && timingSafeEqual(this.digest(presented), this.cachedDigest);
  }

  async verify(presented: string, stored: string): Promise<boolean> {
    const digest = this.digest(presented);
    if (this.cachedFor === stored && this.cachedDigest && timingSafeEqual(digest, this.cachedDigest)) return true;
    let ok: boolean;
    if (isBcryptHash(stored)) {
      ok = await (await bcrypt()).compare(presented, stored);
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
