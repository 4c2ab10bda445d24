/**
 * Calls to the Management API next to the panel. The page lives at `<mount>/panel/`, so the
 * API is `../`: the panel works under any mount point. The key is kept in `sessionStorage`
 * (gone when the tab closes, not shared with other tabs) and sent as `Authorization: Bearer`.
 */
const STORAGE = 'cli-proxy-management.key';

export const session = {
  get: (): string | null => sessionStorage.getItem(STORAGE),
  set: (key: string): void => sessionStorage.setItem(STORAGE, key),
  clear: (): void => sessionStorage.removeItem(STORAGE),
};

/** An API error as the server sent it: status, `error` text, optional `details`, lock-out wait. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly details: unknown,
    readonly retryAfter: number | undefined,
  ) {
    super(error);
  }
}

/** `"30 min"`, `"1 min 5 s"`, `"42 s"`. */
export function formatWait(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  if (m === 0) return `${s} s`;
  return s === 0 ? `${m} min` : `${m} min ${s} s`;
}

/** The error's text and detail lines, as shown to the user. */
export function describe(err: unknown): { text: string; details: string[] } {
  if (!(err instanceof ApiError)) {
    return { text: err instanceof Error ? err.message : String(err), details: [] };
  }
  let text = err.error;
  if (err.status === 429 && err.retryAfter !== undefined)
    text += ` (try again in ${formatWait(err.retryAfter)})`;
  return { text, details: detailLines(err.details) };
}

function detailLines(details: unknown): string[] {
  if (details === undefined || details === null) return [];
  if (typeof details === 'string') return [details];
  if (Array.isArray(details)) {
    return details.map((d: unknown) => {
      if (d && typeof d === 'object' && 'message' in d) {
        const { path, message } = d as { path?: unknown; message?: unknown };
        return typeof path === 'string' && path !== ''
          ? `${path}: ${String(message)}`
          : String(message);
      }
      return typeof d === 'string' ? d : JSON.stringify(d);
    });
  }
  return [JSON.stringify(details)];
}

let onUnauthorized: (err: ApiError) => void = () => undefined;
/** Called when a request made with a stored key answers 401 or 429 (key changed, locked out). */
export function setUnauthorizedHandler(fn: (err: ApiError) => void): void {
  onUnauthorized = fn;
}

export const apiBase = (): URL => new URL('../', location.href);

export function apiUrl(path: string, query?: Record<string, string>): URL {
  const url = new URL(path.replace(/^\//, ''), apiBase());
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
  return url;
}

export interface CallOptions {
  query?: Record<string, string>;
  /** A JSON value, or a FormData for uploads. */
  body?: unknown;
  /** Use this key instead of the stored one (login check); no global 401 handling. */
  key?: string;
}

async function errorOf(res: Response): Promise<ApiError> {
  let error = `HTTP ${res.status}`;
  let details: unknown;
  try {
    const body: unknown = await res.json();
    if (
      body &&
      typeof body === 'object' &&
      typeof (body as { error?: unknown }).error === 'string'
    ) {
      error = (body as { error: string }).error;
      details = (body as { details?: unknown }).details;
    }
  } catch {
    // not JSON: keep the status line
  }
  const retry = Number(res.headers.get('Retry-After'));
  return new ApiError(
    res.status,
    error,
    details,
    Number.isFinite(retry) && retry > 0 ? retry : undefined,
  );
}

/** One request; resolves to the raw Response when it succeeded, else throws an ApiError. */
export async function request(
  method: string,
  path: string,
  opts: CallOptions = {},
): Promise<Response> {
  const key = opts.key ?? session.get() ?? '';
  const headers: Record<string, string> = { Authorization: `Bearer ${key}` };
  let body: BodyInit | undefined;
  if (opts.body instanceof FormData) body = opts.body;
  else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const res = await fetch(apiUrl(path, opts.query), {
    method,
    headers,
    body,
    cache: 'no-store',
    credentials: 'omit',
  });
  if (res.ok) return res;
  const err = await errorOf(res);
  if (opts.key === undefined && (err.status === 401 || err.status === 429)) onUnauthorized(err);
  throw err;
}

/** A JSON request; resolves to the parsed body. */
export async function call(method: string, path: string, opts: CallOptions = {}): Promise<unknown> {
  const res = await request(method, path, opts);
  return res.json();
}
