// The public types of the host runtime: what a proxy hands the router so the routes that need
// the running proxy (usage, logs, /api-call, models, version) answer. Value types keep the wire's
// snake_case member names (`auth_index`); kebab-case ones become camelCase (`latestTimestamp`).
import type { Readable } from 'node:stream';
import type { Request, Response as ExpressResponse } from 'express';
import type { ProxyConfig } from '../types';

/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** What every hook and host route gets as its last argument. */
export interface HookContext {
  /** The config snapshot the request was admitted on (deep-frozen). */
  readonly config: ProxyConfig;
  /** Aborted when the client goes away or the hook's time (`hookTimeoutMs`) is up. */
  readonly signal: AbortSignal;
}

/** One 10-minute bucket of request counts, oldest first. */
export interface RecentRequestBucket {
  /** The window, e.g. `"10:20-10:30"` (server time). */
  readonly time: string;
  /** Successful requests in the window (a safe integer >= 0). */
  readonly success: number;
  /** Failed requests in the window (a safe integer >= 0). */
  readonly failed: number;
}

/** Counts of one API key. */
export interface UsageEntry {
  /** Successful requests since start. */
  readonly success: number;
  /** Failed requests since start. */
  readonly failed: number;
  /** The buckets, oldest first; the newest 20 are sent. */
  readonly recent_requests: readonly RecentRequestBucket[];
}

/**
 * `GET /api-key-usage`: provider (lower-case, e.g. `claude`, or an `openai-compatibility`
 * name) → `"<base-url>|<api-key>"` → counts.
 */
export type ApiKeyUsage = Readonly<Record<string, Readonly<Record<string, UsageEntry>>>>;

/** What the running proxy knows about one token file; merged into its `GET /auth-files` entry. */
export interface AuthFileState {
  /** The credential's id for `POST /api-call` (required, non-blank, at most 128 characters). */
  readonly auth_index: string;
  /** Successful requests with this credential. */
  readonly success?: number;
  /** Failed requests with this credential. */
  readonly failed?: number;
  /** Buckets as in {@link UsageEntry}. */
  readonly recent_requests?: readonly RecentRequestBucket[];
  /** Replaces the entry's `status` (`active`, `error`, `refreshing`...); a disabled file stays `disabled`. */
  readonly status?: string;
  /** Replaces the entry's `status_message`. */
  readonly status_message?: string;
  /** The credential cannot be used now. */
  readonly unavailable?: boolean;
  /** When it may be tried again: a `Date`, Unix seconds or an ISO 8601 string (sent as ISO 8601). */
  readonly next_retry_after?: Date | number | string;
}

/** The query of `GET /logs`, checked. */
export interface LogQuery {
  /** Most lines to answer (1 to 10000). */
  readonly limit: number;
  /** Only lines stamped later than these Unix seconds. */
  readonly after?: number;
  /** A `nextCursor` this host gave before (1-1024 characters of `A-Za-z0-9_.=-`). */
  readonly cursor?: string;
}

/** One page of `GET /logs`. */
export interface LogPage {
  /** The lines, oldest first (over `limit` they are cut from the front). */
  readonly lines: readonly string[];
  /** Unix seconds (or a `Date`) of the newest line seen; the panel asks `after` it next. */
  readonly latestTimestamp: number | Date;
  /** Where the next read goes on (opaque, `A-Za-z0-9_.=-`). Default `""`. */
  readonly nextCursor?: string;
  /** The cursor could not be followed: these lines start afresh. */
  readonly cursorReset?: boolean;
  /** Lines scanned. Default: the number of lines answered. */
  readonly lineCount?: number;
}

/** One file of `GET /request-error-logs`. */
export interface ErrorLogFile {
  /** `error-*.log`; other names are dropped. */
  readonly name: string;
  /** Bytes. */
  readonly size: number;
  /** Unix seconds or a `Date`. */
  readonly modified: number | Date;
}

/** A byte source a download streams. */
export type LogBody = Readable | AsyncIterable<Uint8Array | string> | Uint8Array | string;

/**
 * A log to download: a file (`path`, a regular file opened without following symlinks) or a
 * `body`. `name` is the download's file name; `size` its `Content-Length` when known.
 */
export type LogDownload =
  | { readonly path: string; readonly name?: string; readonly size?: number }
  | { readonly body: LogBody; readonly name?: string; readonly size?: number };

/** What `POST /api-call` may use for a credential. */
export interface ApiCallCredential {
  /** Replaces each `$TOKEN$` in the request's header values. */
  readonly token?: string;
  /** The credential's own proxy (`http(s)://`, `socks5(h)://`, or `direct`/`none`). */
  readonly proxyUrl?: string;
}

/** The request `POST /api-call` sends (to `apiCallFetch`, or the global `fetch` when direct). */
export interface OutboundRequest {
  /** Upper-case method. */
  readonly method: string;
  /** Absolute http(s) URL. */
  readonly url: string;
  /** Only the body's `header` members, `$TOKEN$` replaced; never the caller's `Authorization`. */
  readonly headers: Headers;
  /** The body's `data`. */
  readonly body?: string;
  /** The proxy to use; absent: connect directly. */
  readonly proxyUrl?: string;
  /** Aborted at `apiCallTimeoutMs` or when the client goes away. */
  readonly signal: AbortSignal;
  /** Redirects are answered, never followed. */
  readonly redirect: 'manual';
}

/** A model as the panel reads it. */
export interface ModelInfo {
  /** The model id (non-blank). */
  readonly id: string;
  /** A name for people. */
  readonly display_name?: string;
  /** The provider type, e.g. `claude`. */
  readonly type?: string;
  /** e.g. `anthropic`. */
  readonly owned_by?: string;
  /** `modelDefinitions` may carry more members; they are passed on as given. */
  readonly [member: string]: unknown;
}

/**
 * The running proxy's side of the Management API. Every member is optional: a route whose hook
 * is absent answers `404` as before. Each may return a promise and gets {@link HookContext} last.
 */
export interface ManagementRuntime {
  /** `GET /api-key-usage`: request counts per provider and API key. */
  apiKeyUsage?(ctx: HookContext): MaybePromise<ApiKeyUsage>;
  /** Adds `auth_index`, counts and status to one entry of `GET /auth-files`; `undefined` leaves it. */
  authFileState?(name: string, ctx: HookContext): MaybePromise<AuthFileState | undefined>;
  /** `GET /logs`. */
  readLogs?(query: LogQuery, ctx: HookContext): MaybePromise<LogPage>;
  /** `DELETE /logs`: how many files were removed. */
  clearLogs?(ctx: HookContext): MaybePromise<{ readonly removed: number }>;
  /** `GET /request-error-logs`. */
  listErrorLogs?(ctx: HookContext): MaybePromise<readonly ErrorLogFile[]>;
  /** `GET /request-error-logs/:name` (`name` checked: `error-*.log`); `undefined`: 404. */
  openErrorLog?(name: string, ctx: HookContext): MaybePromise<LogDownload | undefined>;
  /** `GET /request-log-by-id/:id` (`id` checked: 1-128 of `A-Za-z0-9._-`); `undefined`: 404. */
  openRequestLog?(id: string, ctx: HookContext): MaybePromise<LogDownload | undefined>;
  /** `POST /api-call`: the credential of an `auth_index`; `undefined`: unknown. Mounts the route. */
  apiCallCredential?(
    authIndex: string,
    ctx: HookContext,
  ): MaybePromise<ApiCallCredential | undefined>;
  /** Sends `/api-call`'s request (proxies, private-address policy). Default: the global `fetch`, direct only. */
  apiCallFetch?(request: OutboundRequest, ctx: HookContext): Promise<Response>;
  /** `GET /auth-files/models?name=`: the models of one token file; `undefined`: none. */
  authFileModels?(name: string, ctx: HookContext): MaybePromise<readonly ModelInfo[] | undefined>;
  /** `GET /model-definitions/:channel` (trimmed, lower-case); `undefined`: unknown channel. */
  modelDefinitions?(
    channel: string,
    ctx: HookContext,
  ): MaybePromise<readonly ModelInfo[] | undefined>;
  /** `GET /latest-version`: the newest release of the host, e.g. `v1.4.0`. */
  latestVersion?(ctx: HookContext): MaybePromise<string>;
}

/** A route the host adds under the mount, behind the router's access control, CORS and headers. */
export interface HostRoute {
  /** The method; `GET` also answers `HEAD`. */
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Under the mount: segments literal (`A-Za-z0-9._~-`) or `:name`, at most 16, e.g. `/plugins/:id/config`. */
  readonly path: string;
  /** `json` (default but for `GET`): the router's JSON parser fills `req.body`; `raw`: the body is left unread. */
  readonly body?: 'json' | 'raw';
  /** One line for the OpenAPI document. */
  readonly description?: string;
  /** Answers through `res`; `req.params` holds the decoded `:name` segments. */
  handler(req: Request, res: ExpressResponse, ctx: HookContext): void | Promise<void>;
}
