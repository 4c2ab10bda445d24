import { tokenFileName, type TokenStore } from '../engines/tokens';

/**
 * Members of an existing token file that a new login's file replaces even when it lacks them:
 * what belongs to one login (tokens, their times, a device code's display). Every other member
 * of the old file (`prefix`, `priority`, `note`, `disabled`, a host's own) is kept.
 */
const LOGIN_MEMBERS = new Set([
  'access_token',
  'refresh_token',
  'id_token',
  'session_id',
  'expired',
  'last_refresh',
  'expires_in',
  'timestamp',
  'token_type',
  'user_code',
  'verification_uri',
  'verification_uri_complete',
]);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `json`, plus the members of `old` (a token file's bytes) it lacks that are not login members. */
export function mergeTokenJson(
  old: Buffer | undefined,
  json: Record<string, unknown>,
): Record<string, unknown> {
  let previous: unknown;
  try {
    previous = old ? JSON.parse(old.toString('utf8')) : undefined;
  } catch {
    previous = undefined; // not JSON: replaced whole
  }
  // fromEntries defines own properties: a `__proto__` member stays a member.
  const entries: [string, unknown][] = Object.entries(json);
  if (isObject(previous)) {
    for (const [k, v] of Object.entries(previous))
      if (!Object.prototype.hasOwnProperty.call(json, k) && !LOGIN_MEMBERS.has(k))
        entries.push([k, v]);
  }
  return Object.fromEntries(entries);
}

/** 2-space JSON with a final newline. */
const render = (value: Record<string, unknown>): Buffer =>
  Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');

/**
 * Write a login's token file through the token store (atomic, mode 0600; shared by a shared
 * engine): a new file as `json`, an existing one merged by {@link mergeTokenJson} in one atomic
 * read-modify-write. Throws for a name that fails the auth-file name rules, a `json` that is not
 * a plain JSON object, or a failed write.
 */
export async function writeTokenFile(
  tokens: TokenStore,
  name: string,
  json: unknown,
): Promise<void> {
  tokenFileName(name);
  if (!isObject(json)) throw new TypeError('token file JSON must be an object');
  const fresh = render(JSON.parse(JSON.stringify(json)) as Record<string, unknown>);
  const plain = JSON.parse(fresh.toString('utf8')) as Record<string, unknown>;
  const updated = await tokens.update(name, (data) => render(mergeTokenJson(data, plain)));
  if (!updated) await tokens.write(name, fresh);
}
