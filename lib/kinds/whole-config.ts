// The whole config as JSON (`GET /config`) and as YAML text (`GET`/`PUT /config.yaml`). The
// management key never leaves: its value is removed from the JSON and shown as "<hidden>" in the
// text. An upload is the store's "replace the text" operation; this file maps its reasons to
// statuses and gives it each row's check.
import express from 'express';
import { Snapshot } from '../config/typed';
import { parseConfigText } from '../yaml/text';
import type { ProxyConfig } from '../types';
import { HIDDEN, hiddenText, readCopy, storedKeys } from '../config/whole-text';
import { StoreError } from '../engines/errors';
import { HttpError } from '../http/errors';
import { JSON_TYPE, sendJson, sendText } from '../http/reply';
import { type Handler, type RouteTable } from '../http/routes';
import { isPlainObject, valueAt } from '../plain-data';
import { byteCount, uploadBounds } from '../yaml/bounds';
import type { ResolvedRow } from '../settings';
import type { ResourceContext } from './context';
import { kindOf, type UploadCheck } from './index';

/** Top-level keys `GET /config` leaves out (the key lives there; the rest is the host's business). */
const HIDDEN_TOP_LEVEL = [
  'remote-management',
  'remote-management-key',
  'allow-remote-management',
  'host',
  'port',
  'auth-dir',
  'home',
];

/** One check per row whose data is in the config; unknown keys are not checked. */
function rowChecks(rows: readonly ResolvedRow[]): UploadCheck[] {
  return rows.flatMap((row) => kindOf(row).uploadCheck?.(row) ?? []);
}

/**
 * The checks of the known rows on a whole text (as `PUT /config.yaml` checks an upload): the
 * reason of every row whose value is wrong, `[]` when the text is fine or cannot be parsed.
 */
export function configTextCheck(rows: readonly ResolvedRow[]): (text: string) => string[] {
  const checks = rowChecks(rows);
  return (text) => {
    const parsed = parseConfigText(text);
    if ('error' in parsed) return [];
    const upload = new Snapshot((parsed.doc.toJS() ?? {}) as ProxyConfig, text);
    return checks.map((check) => check(upload)).filter((r): r is string => r !== undefined);
  };
}

/** The config as `GET /config` shows it; computed once per text (the panel reads it after every change). */
function configView(
  text: string,
  secrets: ReadonlySet<string>,
  rows: readonly ResolvedRow[],
): Record<string, unknown> {
  // Merge keys (`<<`) resolved, as the proxy reads them; a fresh copy, changed below.
  const snapshot = readCopy(text);
  const view = snapshot.config as Record<string, unknown>;
  for (const k of HIDDEN_TOP_LEVEL) delete view[k];
  const relay = valueAt(view, ['codex', 'live-media-relay', 'ice-servers']);
  if (Array.isArray(relay)) {
    for (const server of relay) {
      if (isPlainObject(server)) {
        delete server.username;
        delete server.credential;
      }
    }
  }
  for (const row of rows) {
    const part = kindOf(row).view;
    if (!part || row.kind === 'files') continue;
    const path = row.key;
    const shown = part(row, snapshot, valueAt(view, path));
    if (!shown) continue; // as stored
    let parent: Record<string, unknown> = view;
    let placed = true;
    for (const k of path.slice(0, -1)) {
      const next = parent[k];
      if (next === undefined || next === null) parent = parent[k] = {};
      else if (isPlainObject(next)) parent = next;
      else {
        placed = false; // the file holds something else there: shown as it is
        break;
      }
    }
    if (placed) parent[path.at(-1) as string] = shown.value;
  }
  return secrets.size === 0 ? view : (scrub(view, secrets) as Record<string, unknown>);
}

/** The key could still be reached through an alias or a merge elsewhere in the file: never sent. */
function scrub(value: unknown, secrets: ReadonlySet<string>): unknown {
  if (typeof value === 'string') return secrets.has(value.trim()) ? HIDDEN : value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets));
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) value[k] = scrub(v, secrets);
  }
  return value;
}

/** The upload's decoded text: UTF-8, else `undefined`. */
function uploadText(body: unknown): string | undefined {
  if (!Buffer.isBuffer(body)) return '';
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
}

/** The status of each reason an upload is refused for. */
const REFUSED = { invalid_yaml: 400, invalid_config: 422 } as const;

/**
 * `GET /config`, `GET /config.yaml` and `PUT /config.yaml` over the rows of the
 * table (scalar rows show their GET value, absent lists `[]`, absent maps `{}`; every known row
 * checks an upload).
 */
export function wholeConfigRoutes(
  routes: RouteTable,
  rows: readonly ResolvedRow[],
  ctx: ResourceContext,
): void {
  const checks = rowChecks(rows);
  const check: UploadCheck = (upload: Snapshot) => {
    for (const one of checks) {
      const reason = one(upload);
      if (reason !== undefined) return reason;
    }
    return undefined;
  };
  const raw = express.raw({ type: () => true, limit: ctx.bodyLimit });
  const expansionLimit = byteCount(ctx.bodyLimit);
  let memo: { text: string; body: string } | undefined;

  const getJson: Handler = async (_req, res) => {
    const text = ctx.store.text;
    if (memo?.text !== text)
      memo = { text, body: JSON.stringify(configView(text, storedKeys(text), rows)) };
    sendText(res, JSON_TYPE, memo.body); // already JSON text (kept per config text)
  };

  const getYaml: Handler = async (_req, res) => {
    const problem = ctx.store.problem;
    if (problem !== undefined)
      throw new HttpError(500, 'read_failed', undefined, undefined, problem);
    sendText(res, 'application/yaml; charset=utf-8', hiddenText(ctx.store.text));
  };

  const putYaml: Handler = async (req, res) => {
    const text = uploadText(req.body);
    if (text === undefined)
      throw new HttpError(400, 'invalid_yaml', undefined, undefined, 'not UTF-8');
    const bounds = uploadBounds(text, expansionLimit);
    if (bounds?.status === 400)
      throw new HttpError(400, 'invalid_yaml', undefined, undefined, bounds.message);
    if (bounds)
      throw new HttpError(413, 'request body too large', undefined, undefined, bounds.message);
    let outcome;
    try {
      outcome = await ctx.store.replaceText(text, check);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'SAVE_FAILED')
        throw new HttpError(500, 'write_failed', undefined, undefined, err.reason);
      throw err;
    }
    if (!outcome.ok) {
      if (outcome.reason === 'invalid_yaml' || outcome.reason === 'invalid_config')
        throw new HttpError(
          REFUSED[outcome.reason],
          outcome.reason,
          undefined,
          undefined,
          outcome.message,
        );
      throw new HttpError(500, 'write_failed', undefined, undefined, outcome.message);
    }
    sendJson(res, { status: 'ok', ok: true, changed: ['config'] });
  };

  routes.define('/config', { get: getJson });
  routes.define('/config.yaml', { get: getYaml, put: putYaml }, { put: [raw] });
}
