// The whole config as JSON (`GET /config`) and as YAML text (`GET`/`PUT /config.yaml`). The
// management key never leaves: its value is removed from the JSON and shown as "<hidden>" in the
// text. An upload is the store's "replace the text" operation; this file maps its reasons to
// statuses and gives it each row's check.
import express from 'express';
import type { Snapshot } from '../config/typed';
import { HIDDEN, hiddenText, readCopy, storedKey } from '../config/whole-text';
import { StoreError } from '../engines/errors';
import { HttpError } from '../http/errors';
import { JSON_TYPE, sendJson, sendText } from '../http/reply';
import { type Handler, type RouteTable } from '../http/routes';
import { isPlainObject, valueAt } from '../plain-data';
import type { ResolvedRow } from '../settings';
import type { ResourceContext } from './context';
import { aliasOf, scalarValue } from './scalar/routes';
import { asSchemaType, type ScalarType } from '../config/typed';

/** Top-level keys `GET /config` leaves out (the key lives there; the rest is the host's business). */
const HIDDEN_TOP_LEVEL = ['remote-management', 'remote-management-key', 'allow-remote-management', 'host', 'port', 'auth-dir', 'home'];

/** `a.b[0].c` from a key path and an ajv instance path (`/0/c`). */
function yamlPath(base: readonly string[], instancePath = ''): string {
  let out = base.join('.');
  for (const part of instancePath.split('/').slice(1)) {
    const seg = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`;
  }
  return out;
}

/** Per row: a check of the value an uploaded config holds for it (`undefined`: fine). */
type RowCheck = (upload: Snapshot) => string | undefined;

/** One check per known row; unknown keys are not checked. */
function rowChecks(rows: readonly ResolvedRow[]): RowCheck[] {
  const checks: RowCheck[] = [];
  for (const row of rows) {
    if (row.kind === 'files') continue;
    const path = row.key;
    const where = path.join('.');
    if (row.kind === 'scalar') {
      const { validate } = row;
      const type = String(row.schema.type) as ScalarType;
      checks.push((upload) => {
        const stored = valueAt(upload.config, path);
        if (stored === undefined || stored === null) return undefined;
        // Read as every GET reads it (`debug: yes` is a boolean), then checked against the schema.
        const read = upload.read(path, type);
        if (!read.valid) return `${where}: must be ${type}`;
        const v = read.value;
        if (row.aliases && typeof v === 'string') {
          if (aliasOf(row, v) !== undefined) return undefined;
          return `${where}: must be one of ${[...new Set(Object.values(row.aliases))].join(', ')}`;
        }
        if (validate(v)) return undefined;
        return `${where}: ${validate.errors?.[0]?.message ?? 'invalid'}`;
      });
    } else if (row.kind === 'string-array') {
      checks.push((upload) => {
        const v = valueAt(upload.config, path);
        if (v === undefined || v === null) return undefined;
        if (!Array.isArray(v)) return `${where}: must be a list`;
        const bad = v.findIndex((item) => !((typeof item === 'string' && item.trim() !== '') || typeof item === 'number'));
        return bad < 0 ? undefined : `${where}[${bad}]: must be a non-empty string`;
      });
    } else if (row.kind === 'map') {
      checks.push((upload) => {
        const v = valueAt(upload.config, path);
        if (v === undefined || v === null) return undefined;
        if (!isPlainObject(v)) return `${where}: must be a mapping of names to lists`;
        const bad = Object.entries(v).find(([, list]) => list !== null && !Array.isArray(list));
        return bad ? `${where}.${bad[0]}: must be a list` : undefined;
      });
    } else {
      const { validate, itemSchema } = row;
      checks.push((upload) => {
        const v = valueAt(upload.config, path);
        if (v === undefined || v === null) return undefined;
        if (!Array.isArray(v)) return `${where}: must be a list`;
        const literal = upload.literalsAt(path);
        for (let i = 0; i < v.length; i++) {
          // Read as GET reads it (`proxy-url: 8080` is "8080"), then checked against the schema.
          if (validate(asSchemaType(v[i], itemSchema, literal, [i]))) continue;
          const e = validate.errors?.[0];
          return `${yamlPath(path, `/${i}${e?.instancePath ?? ''}`)}: ${e?.message ?? 'invalid'}`;
        }
        return undefined;
      });
    }
  }
  return checks;
}

/** The config as `GET /config` shows it; computed once per text (the panel reads it after every change). */
function configView(text: string, secret: string, rows: readonly ResolvedRow[]): Record<string, unknown> {
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
    if (row.kind === 'files') continue;
    const path = row.key;
    const current = valueAt(view, path);
    if (row.kind === 'object-array' && Array.isArray(current)) {
      // Items typed as the Go server reads them, as GET of the row shows them.
      const literal = snapshot.literalsAt(path);
      current.forEach((item: unknown, i) => (current[i] = asSchemaType(item, row.itemSchema, literal, [i])));
    }
    let shown: unknown;
    if (row.kind === 'scalar') shown = scalarValue(row, snapshot);
    else if (current !== undefined && current !== null) continue; // lists and maps exactly as stored
    else shown = row.kind === 'string-array' || row.kind === 'object-array' ? [] : {};
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
    if (placed) parent[path.at(-1) as string] = shown;
  }
  return secret === '' ? view : (scrub(view, secret) as Record<string, unknown>);
}

/** The key could still be reached through an alias elsewhere in the file: never sent. */
function scrub(value: unknown, secret: string): unknown {
  if (typeof value === 'string') return value.trim() === secret ? HIDDEN : value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, secret));
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) value[k] = scrub(v, secret);
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
export function wholeConfigRoutes(routes: RouteTable, rows: readonly ResolvedRow[], ctx: ResourceContext): void {
  const checks = rowChecks(rows);
  const check = (upload: Snapshot): string | undefined => {
    for (const one of checks) {
      const reason = one(upload);
      if (reason !== undefined) return reason;
    }
    return undefined;
  };
  const raw = express.raw({ type: () => true, limit: ctx.bodyLimit });
  let memo: { text: string; body: string } | undefined;

  const getJson: Handler = async (_req, res) => {
    const text = ctx.store.text;
    if (memo?.text !== text) memo = { text, body: JSON.stringify(configView(text, storedKey(text), rows)) };
    sendText(res, JSON_TYPE, memo.body); // already JSON text (kept per config text)
  };

  const getYaml: Handler = async (_req, res) => {
    const problem = ctx.store.problem;
    if (problem !== undefined) throw new HttpError(500, 'read_failed', undefined, undefined, problem);
    sendText(res, 'application/yaml; charset=utf-8', hiddenText(ctx.store.text));
  };

  const putYaml: Handler = async (req, res) => {
    const text = uploadText(req.body);
    if (text === undefined) throw new HttpError(400, 'invalid_yaml', undefined, undefined, 'not UTF-8');
    let outcome;
    try {
      outcome = await ctx.store.replaceText(text, check);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'SAVE_FAILED') throw new HttpError(500, 'write_failed', undefined, undefined, err.reason);
      throw err;
    }
    if (!outcome.ok) {
      if (outcome.reason === 'invalid_yaml' || outcome.reason === 'invalid_config') throw new HttpError(REFUSED[outcome.reason], outcome.reason, undefined, undefined, outcome.message);
      throw new HttpError(500, 'write_failed', undefined, undefined, outcome.message);
    }
    sendJson(res, { status: 'ok', ok: true, changed: ['config'] });
  };

  routes.define('/config', { get: getJson });
  routes.define('/config.yaml', { get: getYaml, put: putYaml }, { put: [raw] });
}
