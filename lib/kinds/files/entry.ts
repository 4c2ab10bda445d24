import type { TokenFile } from '../../engines/tokens';

/** One entry of `GET /auth-files`: derived from the file's JSON and its metadata only. */
export interface AuthFileEntry {
  name: string;
  id: string;
  size: number;
  modtime: string;
  updated_at: string;
  type: string;
  provider: string;
  email?: string;
  label: string;
  disabled: boolean;
  status: 'active' | 'disabled';
  status_message: '';
  unavailable: false;
  runtime_only: false;
  source: 'file';
  project_id?: string;
  note?: string;
  priority?: number;
  weight?: number;
  request_retry?: number;
  websockets?: boolean;
  last_refresh?: string;
  id_token?: CodexIdToken;
}

/** What a Codex file's `id_token` tells about the account (unverified: for display only). */
export interface CodexIdToken {
  chatgpt_account_id?: string;
  plan_type?: string;
  chatgpt_subscription_active_start?: string | number;
  chatgpt_subscription_active_until?: string | number;
}

/** Upper bound of `weight`; above it the value is not shown (and `PATCH /fields` refuses it). */
export const MAX_WEIGHT = 1_000_000;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** An own member only: a file's `constructor` or `__proto__` key is data like any other. */
const own = (obj: Json, key: string): unknown =>
  Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;

/** A string with something besides white space in it, trimmed; else `undefined`. */
function text(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/** A JSON integer, or a string of one (`"3"`, `" -2 "`); `undefined` for anything else. */
export function integer(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v !== 'string' || !/^\s*[+-]?\d+\s*$/.test(v)) return undefined;
  const n = Number(v.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') return undefined;
  const t = v.trim().toLowerCase();
  return t === 'true' ? true : t === 'false' ? false : undefined;
}

/** `true` iff the file says `"disabled": true` (or the string `"true"`, any case). */
export const isDisabled = (json: unknown): boolean =>
  isObject(json) && bool(own(json, 'disabled')) === true;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const PLAIN = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/**
 * A refresh time as ISO 8601 (UTC, milliseconds): RFC 3339, `YYYY-MM-DD HH:MM:SS` (read as
 * UTC), or Unix seconds (a number or a string of digits). `undefined` when it is none of these.
 */
export function isoTime(v: unknown): string | undefined {
  let ms: number | undefined;
  if (typeof v === 'number' && Number.isFinite(v)) ms = v * 1000;
  else if (typeof v === 'string') {
    const t = v.trim();
    const plain = PLAIN.exec(t);
    if (/^\d+(\.\d+)?$/.test(t)) ms = Number(t) * 1000;
    else if (RFC3339.test(t)) ms = Date.parse(t.toUpperCase().replace(' ', 'T'));
    else if (plain)
      ms = Date.parse(`${plain.slice(1, 4).join('-')}T${plain.slice(4, 7).join(':')}Z`);
  }
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

const REFRESH_KEYS = ['last_refresh', 'lastRefresh', 'last_refreshed_at', 'lastRefreshedAt'];

/** The payload of a JWT, unverified; `undefined` when it is not one. */
function jwtPayload(token: unknown): Json | undefined {
  if (typeof token !== 'string') return undefined;
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1] || !/^[A-Za-z0-9_-]+={0,2}$/.test(parts[1])) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return isObject(payload) ? payload : undefined;
  } catch {
    return undefined;
  }
}

/** The account fields of a Codex `id_token` (its `https://api.openai.com/auth` claim). */
function codexIdToken(token: unknown): CodexIdToken | undefined {
  const claims = jwtPayload(token);
  const auth = claims && own(claims, 'https://api.openai.com/auth');
  if (!isObject(auth)) return undefined;
  const out: CodexIdToken = {};
  const account = text(own(auth, 'chatgpt_account_id'));
  if (account !== undefined) out.chatgpt_account_id = account;
  const plan = text(own(auth, 'chatgpt_plan_type'));
  if (plan !== undefined) out.plan_type = plan;
  for (const key of [
    'chatgpt_subscription_active_start',
    'chatgpt_subscription_active_until',
  ] as const) {
    const v = own(auth, key);
    if ((typeof v === 'string' && v.trim() !== '') || (typeof v === 'number' && Number.isFinite(v)))
      out[key] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The file's JSON value, `undefined` when it is not UTF-8 JSON (such a file is still listed). */
function parse(data: Buffer): unknown {
  try {
    return JSON.parse(utf8.decode(data)) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The list entry of one token file. Only what the file says and its size and
 * time; runtime fields (`auth_index`, `success`, `failed`, `recent_requests`) are the proxy's
 * and stay out, and so does the server path.
 */
export function authFileEntry(file: TokenFile): AuthFileEntry {
  const parsed = parse(file.data);
  const json: Json = isObject(parsed) ? parsed : {};
  const modtime = file.modtime.toISOString();
  const type = text(own(json, 'type')) ?? 'unknown';
  const email = text(own(json, 'email'));
  const disabled = isDisabled(json);
  const entry: AuthFileEntry = {
    name: file.name,
    id: file.name,
    size: file.size,
    modtime,
    updated_at: modtime,
    type,
    provider: type,
    ...(email !== undefined ? { email } : {}),
    label: email ?? type,
    disabled,
    status: disabled ? 'disabled' : 'active',
    status_message: '',
    unavailable: false,
    runtime_only: false,
    source: 'file',
  };
  const projectId = text(own(json, 'project_id'));
  if (projectId !== undefined) entry.project_id = projectId;
  const note = text(own(json, 'note'));
  if (note !== undefined) entry.note = note;
  const priority = integer(own(json, 'priority'));
  if (priority !== undefined) entry.priority = priority;
  const weight = integer(own(json, 'weight'));
  if (weight !== undefined && weight <= MAX_WEIGHT) entry.weight = Math.max(weight, 0);
  const retry = integer(own(json, 'request_retry')) ?? integer(own(json, 'request-retry'));
  if (retry !== undefined && retry >= 0) entry.request_retry = retry;
  const websockets = bool(own(json, 'websockets'));
  if (websockets !== undefined) entry.websockets = websockets;
  for (const key of REFRESH_KEYS) {
    const at = isoTime(own(json, key));
    if (at !== undefined) {
      entry.last_refresh = at;
      break;
    }
  }
  if (type === 'codex') {
    const idToken = codexIdToken(own(json, 'id_token'));
    if (idToken) entry.id_token = idToken;
  }
  return entry;
}
