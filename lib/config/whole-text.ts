// The whole config as text: shown with the management key hidden, and replaced by an upload
// (`PUT /config.yaml`). The upload is parsed once here; the HTTP layer only maps the typed
// reasons to statuses. The key is kept (where the upload shows it hidden or leaves it out),
// rotated (a new one is hashed before the write) or refused, never emptied.
import { isDeepStrictEqual } from 'node:util';
import { isScalar, parseDocument, Scalar, visit, type Document, type Node } from 'yaml';
import type { TextOutcome } from '../engines/spi';
import { ensureParents } from '../yaml/edit';
import { parseConfigText, renderEdit, type ParsedText } from '../yaml/text';
import type { ProxyConfig } from '../types';
import { saveFailed } from '../engines/errors';
import type { Parsed } from './group';
import {
  hashSecret,
  isBcryptHash,
  keyNodeAt,
  keyTooLong,
  overBcryptLimit,
  scalarText,
  SECRET_PATHS,
} from './secret';
import { Snapshot } from './typed';

/** What the text shows instead of the management key (and what an upload may send back for it). */
export const HIDDEN = '<hidden>';

const KEY_PATHS = [SECRET_PATHS.canonical, SECRET_PATHS.alias] as const;

/** The node holding the key at `path` (aliases resolved, `<<` merges followed), if the document has one. */
function keyNode(doc: Document, path: readonly string[]): Node | undefined {
  return keyNodeAt(doc, path).node;
}

/**
 * A key node's value as a trimmed string, or `undefined` for a non-scalar. An unquoted number is
 * its text as written (`secret-key: 0x1F` is the key "0x1F", not "31"), as the Go server reads it.
 */
function keyText(node: Node): string | undefined {
  if (!isScalar(node)) return undefined;
  const v = node.value;
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return undefined;
  return scalarText(node)?.trim();
}

/** The stored keys of `doc` (plaintext or hash) at each spelling that has one, by dotted path. */
function keysIn(doc: Document): Map<string, string> {
  const out = new Map<string, string>();
  for (const path of KEY_PATHS) {
    const node = keyNode(doc, path);
    const value = node ? keyText(node) : undefined;
    if (value) out.set(path.join('.'), value);
  }
  return out;
}

/** The key in use (the canonical spelling wins), `''` when none. */
const effectiveKey = (stored: ReadonlyMap<string, string>): string =>
  stored.get(KEY_PATHS[0].join('.')) ?? stored.get(KEY_PATHS[1].join('.')) ?? '';

/**
 * Every stored spelling's key in `text` (plaintext or hash): each is hidden from every answer.
 * Empty when none or when the text is not a usable config.
 */
export function storedKeys(text: string): Set<string> {
  const parsed = parseConfigText(text);
  return 'error' in parsed ? new Set() : new Set(keysIn(parsed.doc).values());
}

/** `text` with every scalar holding a management key (any spelling's value) replaced by `"<hidden>"`, nothing else changed. */
export function hiddenText(text: string): string {
  const secrets = storedKeys(text);
  if (secrets.size === 0) return text;
  const doc = parseDocument(text, { keepSourceTokens: false });
  const ranges: [number, number][] = [];
  visit(doc, {
    Scalar(_key, node) {
      const v = scalarText(node);
      if (v !== undefined && secrets.has(v.trim()) && node.range)
        ranges.push([node.range[0], node.range[1]]);
    },
  });
  ranges.sort((a, b) => b[0] - a[0]);
  let out = text;
  for (const [start, end] of ranges) out = `${out.slice(0, start)}"${HIDDEN}"${out.slice(end)}`;
  return out;
}

/**
 * The values of `text` as the proxy reads them (merge keys resolved), a fresh mutable copy,
 * with the snapshot that reads them as the Go server does.
 */
export function readCopy(text: string): Snapshot {
  const raw: unknown = parseDocument(text, { merge: true, uniqueKeys: false }).toJS({
    maxAliasCount: 10_000,
  });
  const config =
    raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as ProxyConfig) : {};
  return new Snapshot(config, text);
}

/** What an upload does with the key at one of its locations: keep the stored one, set a hash, or leave it. */
type KeyPlan = { readonly path: readonly string[]; readonly set: 'stored' | string | undefined };

export const refusal = (
  reason: 'invalid_yaml' | 'invalid_config',
  message: string,
): TextOutcome => ({ ok: false, reason, message });
const EMPTIED = 'the management key cannot be emptied through the API';

/**
 * Check an upload and plan its write: parsed once, the key locations planned (a new key hashed
 * now, so no plaintext key reaches the store), then `check` (each row's rule) on its values.
 * Returns a refusal, or the edit that turns the newest stored text into the text to store.
 */
export async function planReplace(
  text: string,
  check: (upload: Snapshot) => string | undefined,
  rounds: number,
): Promise<TextOutcome | ((current: Parsed) => Parsed)> {
  const parsed = parseConfigText(text);
  if ('error' in parsed) return refusal('invalid_yaml', parsed.error);
  if (parsed.doc.contents === null)
    return refusal('invalid_yaml', 'the config is empty (it must be a YAML mapping)');
  // The key, at each location the upload has (the canonical one wins, as everywhere).
  const plans: { path: readonly string[]; set: KeyPlan['set']; plain?: string }[] = [];
  let effective = true;
  for (const path of KEY_PATHS) {
    const node = keyNode(parsed.doc, path);
    if (!node) continue;
    const value = keyText(node);
    if (value === undefined)
      return refusal('invalid_config', `${path.join('.')}: must be a string`);
    let set: KeyPlan['set'];
    if (value === HIDDEN) set = 'stored';
    else if (value === '') {
      if (effective) return refusal('invalid_config', EMPTIED);
    } else if (!isBcryptHash(value) && overBcryptLimit(value)) {
      // bcrypt reads 72 bytes: a longer key would lock the admin out (what they type no longer matches).
      return refusal('invalid_config', `${path.join('.')}: ${keyTooLong}`);
    }
    plans.push({
      path,
      set,
      plain: value !== HIDDEN && value !== '' && !isBcryptHash(value) ? value : undefined,
    });
    effective = false;
  }
  // Values written unquoted are read as their text where a string is expected.
  const reason = check(new Snapshot((parsed.doc.toJS() ?? {}) as ProxyConfig, text));
  if (reason !== undefined) return refusal('invalid_config', reason);
  // A new key: hashed now, so the plaintext never reaches the store, a log or an answer.
  for (const plan of plans)
    if (plan.plain !== undefined) plan.set = await hashSecret(plan.plain, rounds);
  return (current) => withKey(text, parsed, plans, keysIn(current.parsed.doc));
}

/** A whole-text write refused for a reason the client can fix, thrown through the store's queue. */
export class Refused extends Error {
  constructor(readonly outcome: TextOutcome) {
    super('refused');
  }
}

/**
 * The text to store for an upload: the upload with its key locations set (`"<hidden>"` and an
 * absent key become the stored key, a new one its hash), laid out as the user wrote it.
 */
function withKey(
  upload: string,
  parsed: ParsedText,
  plans: readonly KeyPlan[],
  storedAt: ReadonlyMap<string, string>,
): Parsed {
  const stored = effectiveKey(storedAt);
  const doc = parsed.doc.clone();
  let changed = false;
  const put = (path: readonly string[], value: string): void => {
    const node = keyNode(doc, path);
    if (isScalar(node)) {
      if (node.value === value) return;
      node.value = value;
      if (
        node.type === Scalar.BLOCK_FOLDED ||
        node.type === Scalar.BLOCK_LITERAL ||
        node.type === Scalar.PLAIN
      )
        node.type = Scalar.QUOTE_DOUBLE;
    } else {
      ensureParents(doc, path);
      doc.setIn(path, doc.createNode(value));
    }
    changed = true;
  };
  const keep = (path: readonly string[]): void => {
    if (stored === '') throw new Refused(refusal('invalid_config', EMPTIED));
    // "<hidden>" at a spelling keeps that spelling's stored value (the key in use when it had none).
    put(path, storedAt.get(path.join('.')) ?? stored);
  };
  if (plans.length === 0) keep(SECRET_PATHS.canonical);
  for (const plan of plans) {
    if (plan.set === 'stored') keep(plan.path);
    else if (plan.set !== undefined) put(plan.path, plan.set);
  }
  if (!changed) return { text: upload, parsed };
  const intended: unknown = doc.toJS();
  for (const text of renderEdit(upload, parsed.canonical, doc)) {
    const again = parseConfigText(text);
    if (!('error' in again) && isDeepStrictEqual(again.doc.toJS(), intended))
      return { text, parsed: again };
  }
  throw saveFailed(
    'the uploaded config could not be written with its key kept; nothing was written',
  );
}
