/**
 * The checks every options object of the package shares (`createManagementRouter`,
 * `fileStorage`, `postgresStorage`): each failure is one `ManagementError` with the code
 * `ERR_INVALID_OPTION`, thrown before any I/O, whose message names the option, what it must be
 * and, for a name the function does not know, the nearest known name.
 */
import { ManagementError } from './errors';

/** A `ManagementError` with the code `ERR_INVALID_OPTION`. */
export const invalidOption = (message: string): ManagementError =>
  new ManagementError('ERR_INVALID_OPTION', message);

/**
 * Edit distance, case-insensitive, where two neighbouring letters swapped count as one edit
 * (optimal string alignment: `oatuh` is one edit from `oauth`). Names are short: a table is enough.
 */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const d: number[][] = Array.from({ length: x.length + 1 }, (_, i) =>
    Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[x.length]![y.length]!;
}

/**
 * The known name `name` was most likely meant as: the same name in another case, a name that
 * starts or ends with it (or it with the name: `lockStale`, `lockStaleMsec`), else the nearest
 * name within a third of its length in edits (at least 2).
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const exact = known.find((k) => k.toLowerCase() === lower);
  if (exact) return exact;
  let best: string | undefined;
  let bestScore = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const k of known) {
    const kl = k.toLowerCase();
    const score =
      lower.length >= 4 && (kl.startsWith(lower) || lower.startsWith(kl)) ? 1 : distance(name, k);
    if (score < bestScore) {
      best = k;
      bestScore = score;
    }
  }
  return best;
}

/**
 * Throw for a value that is not a plain options object (`undefined` is none given), and for
 * the first name in it that `known` does not list, with the nearest known name.
 */
export function checkOptionNames(what: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw invalidOption(`${what} options must be an object`);
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const near = nearestName(name, known);
    throw invalidOption(
      `${what}: unknown option ${JSON.stringify(name)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}; known options: ${known.join(', ')}`,
    );
  }
}

/** An integer option from `min` to `max`, or `fallback` when it is `undefined`. */
export function integerOption(
  name: string,
  value: unknown,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw invalidOption(`${name} must be an integer ${range} (got ${describe(value)})`);
  }
  return value;
}

/** A boolean option, or `fallback` when it is `undefined`. */
export function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw invalidOption(`${name} must be a boolean (got ${describe(value)})`);
  return value;
}

/** A short description of a bad value for a message (never more than 40 characters of a string). */
export function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    value === null ||
    value === undefined
  )
    return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

const UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/**
 * A size in bytes: a positive integer, or a string of a number and a unit (`b`, `kb`, `mb`,
 * `gb`, powers of 1024, any case, spaces allowed: `'512kb'`, `'1.5 MB'`, `'100'`). Anything
 * else throws, so that a size the body parser would read as something else (`'1 megabyte'` as
 * 1 byte) never gets that far.
 */
export function sizeOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  let bytes: number | undefined;
  if (typeof value === 'number') bytes = value;
  else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
    if (m) bytes = Math.floor(Number(m[1]) * (UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1));
  }
  if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes < 1) {
    throw invalidOption(
      `${name} must be a positive integer of bytes or a size such as '512kb' or '1mb' (got ${describe(value)})`,
    );
  }
  return bytes;
}
