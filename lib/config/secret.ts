import * as crypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ProxyConfig } from '../types';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  visit,
  type Alias,
  type Document,
  type Node,
  type Scalar,
} from 'yaml';
import { saveFailed } from '../engines/errors';
import { loadSync } from '../load-sync';
import { valueAt } from '../plain-data';
import { asBoolean, type Snapshot } from './typed';

/** The canonical key path and the documented alias of the management key and the remote flag. */
export const SECRET_PATHS = {
  canonical: ['remote-management', 'secret-key'],
  alias: ['remote-management-key'],
} as const;
export const REMOTE_PATHS = {
  canonical: ['remote-management', 'allow-remote'],
  alias: ['allow-remote-management'],
} as const;

type Paths = { readonly canonical: readonly string[]; readonly alias: readonly string[] };

/** The path and value at the canonical path when that key exists, else at the alias. */
export function readAliased(
  config: ProxyConfig,
  paths: Paths,
): { path: readonly string[]; value: unknown } {
  const canonical = valueAt(config, paths.canonical);
  if (canonical !== undefined) return { path: paths.canonical, value: canonical };
  return { path: paths.alias, value: valueAt(config, paths.alias) };
}

/** Answers derived from one snapshot, computed once per snapshot (every request asks). */
interface Derived {
  readonly secret: ConfiguredSecret;
  readonly allowRemote: boolean;
}

/** The configured management key as the router uses it. */
export interface ConfiguredSecret {
  /** Where it was found (the canonical path, else the alias). */
  readonly path: readonly string[];
  /** The key (plaintext or hash), `''` when none or refused. */
  readonly value: string;
  /** Set when a key is configured but cannot be used (the API stays disabled); never holds the key. */
  readonly refused?: string;
}

const DERIVED = {};

function derive(snapshot: Snapshot): Derived {
  const { path } = readAliased(snapshot.config, SECRET_PATHS);
  // Read as a string the way the Go server does: `secret-key: 0123` is the key "0123".
  const value = (snapshot.read(path, 'string').value as string).trim();
  let secret: ConfiguredSecret = { path, value };
  if (value !== '' && !isBcryptHash(value) && overBcryptLimit(value)) {
    secret = { path, value: '', refused: keyTooLong };
  }
  return {
    secret: Object.freeze(secret),
    allowRemote: asBoolean(readAliased(snapshot.config, REMOTE_PATHS).value).value,
  };
}

/** The configured management key (plaintext or hash), `''` when none. */
export function configuredSecret(snapshot: Snapshot): ConfiguredSecret {
  return snapshot.memo(DERIVED, derive).secret;
}

/** Whether clients other than local ones may use the API (`remote-management.allow-remote`, read as the Go server reads it). */
export function allowRemote(snapshot: Snapshot): boolean {
  return snapshot.memo(DERIVED, derive).allowRemote;
}

const HASH_RE = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export const isBcryptHash = (value: string): boolean => HASH_RE.test(value);

/** bcrypt reads this many bytes of a key and ignores the rest. */
export const BCRYPT_MAX_BYTES = 72;

/** Why a key over {@link BCRYPT_MAX_BYTES} is refused (at start and in an upload). */
export const keyTooLong = `the management key is longer than ${BCRYPT_MAX_BYTES} bytes (UTF-8), and bcrypt would check only its first ${BCRYPT_MAX_BYTES}`;

/** Whether `key` is longer than bcrypt can check (UTF-8 bytes). */
export const overBcryptLimit = (key: string): boolean =>
  Buffer.byteLength(key, 'utf8') > BCRYPT_MAX_BYTES;

/**
 * bcrypt work (compares and hashes) running at once in this process, at most. bcrypt runs on
 * libuv's thread pool (4 threads by default), which file I/O shares: a flood of keys must leave
 * threads for the config and the token files. Extra work waits in line (first come, first served).
 */
export const MAX_CONCURRENT_BCRYPT = 2;
let bcryptActive = 0;
const bcryptWaiting: (() => void)[] = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (bcryptActive < MAX_CONCURRENT_BCRYPT) bcryptActive++;
  else await new Promise<void>((resolve) => bcryptWaiting.push(resolve)); // the slot is handed over
  try {
    return await work();
  } finally {
    const next = bcryptWaiting.shift();
    if (next) next();
    else bcryptActive--;
  }
}

/**
 * bcrypt (a native addon), loaded on first use: a host that never sees a key does not pay for it.
 * Loaded with `require` (`loadSync`), never a dynamic `import()`: jest runs CommonJS in a module
 * VM that refuses `import()` (`ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING_FLAG`).
 */
let bcryptModule: typeof import('bcrypt') | undefined;
const bcrypt = async (): Promise<typeof import('bcrypt')> =>
  (bcryptModule ??= loadSync('bcrypt') as typeof import('bcrypt'));

export const hashSecret = (plain: string, rounds: number): Promise<string> =>
  limited(async () => (await bcrypt()).hash(plain, rounds));

/** A `$2y$` hash (htpasswd -B, PHP) is the same algorithm as `$2b$`, which is what the bcrypt binding reads. */
const asB = (hash: string): string => (hash.startsWith('$2y$') ? `$2b$${hash.slice(4)}` : hash);

/** bcrypt compare, bounded by {@link MAX_CONCURRENT_BCRYPT}; a key over 72 bytes never matches. */
export const compareSecret = (presented: string, hash: string): Promise<boolean> =>
  overBcryptLimit(presented)
    ? Promise.resolve(false)
    : limited(async () => (await bcrypt()).compare(presented, asB(hash)));

/** `crypto.hash` (one-shot, Node 20.12+ and 21.7+), or `undefined` on older Node 20. */
const oneShotHash = (
  crypto as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }
).hash;

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
    return createHash('sha256')
      .update(this.prefix + presented)
      .digest();
  }

  /** A per-process tag of `presented` (its keyed digest, hex): tells two requests with the same key apart from others, never the key. */
  tag(presented: string): string {
    return this.digest(presented).toString('hex');
  }

  /** Synchronous fast path: whether `presented` is the key that last verified against `stored`. */
  verified(presented: string, stored: string): boolean {
    return (
      this.cachedFor === stored &&
      !!this.cachedDigest &&
      timingSafeEqual(this.digest(presented), this.cachedDigest)
    );
  }

  async verify(presented: string, stored: string): Promise<boolean> {
    const digest = this.digest(presented);
    if (
      this.cachedFor === stored &&
      this.cachedDigest &&
      timingSafeEqual(digest, this.cachedDigest)
    )
      return true;
    let ok: boolean;
    if (isBcryptHash(stored)) {
      ok = await compareSecret(presented, stored);
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

/** The text of a scalar as written: `secret-key: 0123` is `"0123"`, not the number 123 (`0x1F` is `"0x1F"`). */
export function scalarText(node: Scalar): string | undefined {
  if (typeof node.value === 'string') return node.value;
  if (
    typeof node.value === 'number' ||
    typeof node.value === 'boolean' ||
    typeof node.value === 'bigint'
  ) {
    return typeof node.source === 'string' ? node.source : String(node.value);
  }
  return undefined;
}

/** A `<<` merge key (`merge: true` reads it as a symbol). */
const isMergeKey = (key: unknown): boolean =>
  isScalar(key) &&
  (key.value === '<<' || (typeof key.value === 'symbol' && key.value.description === '<<'));

/** Where a key path leads in a document: the node (aliases resolved) and the aliases passed on the way. */
export interface KeyNode {
  readonly node: Node | undefined;
  readonly via: readonly Alias[];
}

/** Merges followed at most this deep (a merge source may merge again; anchors can form cycles). */
const MAX_MERGE_HOPS = 32;

/**
 * The node at `path` of `doc` as the config is read: YAML aliases resolved and `<<` merge keys
 * followed (a key of the mapping itself wins, then the merge sources in order), so the key is
 * found whatever YAML path leads to it. `via` lists the aliases the way went through.
 */
export function keyNodeAt(doc: Document, path: readonly (string | number)[]): KeyNode {
  const via: Alias[] = [];
  const deref = (n: unknown): unknown => {
    for (let hops = 0; isAlias(n) && hops < MAX_MERGE_HOPS; hops++) {
      via.push(n);
      n = n.resolve(doc);
    }
    return n;
  };
  const member = (map: unknown, key: string | number, hops: number): unknown => {
    const m = deref(map);
    if (isSeq(m) && typeof key === 'number') return m.items[key];
    if (!isMap(m) || hops > MAX_MERGE_HOPS) return undefined;
    for (const pair of m.items) {
      const k = isScalar(pair.key) ? pair.key.value : pair.key;
      if (k === key || (typeof key === 'number' && k === String(key))) return pair.value ?? null;
    }
    for (const pair of m.items) {
      if (!isMergeKey(pair.key)) continue;
      const source = deref(pair.value);
      const sources = isSeq(source) ? source.items : [source];
      for (const s of sources) {
        const mark = via.length;
        const found = member(s, key, hops + 1);
        if (found !== undefined) return found;
        via.length = mark; // not this way
      }
    }
    return undefined;
  };
  let node: unknown = doc.contents;
  for (const k of path) {
    node = member(node, k, 0);
    if (node === undefined) return { node: undefined, via };
  }
  node = deref(node);
  return { node: node === null ? undefined : (node as Node), via };
}

/** Whether `node` is `target` or holds it (aliases inside are not followed). */
function holds(node: unknown, target: unknown): boolean {
  const stack = [node];
  while (stack.length > 0) {
    const n = stack.pop();
    if (n === target) return true;
    if (isMap(n)) for (const p of n.items) stack.push(p.key, p.value);
    else if (isSeq(n)) for (const i of n.items) stack.push(i);
  }
  return false;
}

/**
 * Put `hash` where the plaintext key `plain` stands at `path` of `doc` (a mutation): the scalar
 * itself, or, when the key is reached through a YAML alias (`secret-key: *k`) or a `<<` merge
 * (`remote-management: {<<: *base}`), the scalar the anchor holds, the only place its text is
 * written. An anchor that other aliases use too cannot be replaced without changing them: then
 * this throws (`SAVE_FAILED` with the reason, logged by the caller at every start and change),
 * and the key stays plaintext on disk (compared in memory, never shown). Nothing changes when
 * the value at `path` is no longer `plain` (an edit came first).
 */
export function replaceSecret(
  doc: Document,
  path: readonly string[],
  plain: string,
  hash: string,
): void {
  const { node: target, via } = keyNodeAt(doc, path);
  if (!isScalar(target) || scalarText(target)?.trim() !== plain) return;
  if (via.length > 0) {
    const onKeyPaths = new Set<unknown>([
      ...via,
      ...keyNodeAt(doc, SECRET_PATHS.canonical).via,
      ...keyNodeAt(doc, SECRET_PATHS.alias).via,
    ]);
    let shared = false;
    visit(doc, {
      Alias(_key, alias) {
        if (!onKeyPaths.has(alias) && holds(alias.resolve(doc), target)) shared = true;
      },
    });
    if (shared) {
      throw saveFailed(
        `the management key is reached through a YAML alias or merge whose anchor other values use too; replace its anchor's plaintext by a bcrypt hash by hand`,
      );
    }
  }
  target.value = hash;
}
