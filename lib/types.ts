import type { AuthFileListener, OAuthOptions } from './oauth/types';
import type { Router } from 'express';
import type { HostRoute, ManagementRuntime } from './runtime/types';
import type { LockoutRecord, LockoutStore, Logger, Storage } from './engines/spi';

export type { LockoutRecord, LockoutStore, Logger };

/**
 * A JSON Schema (draft 2020-12 subset understood by ajv) describing a value or an item.
 * Kept deliberately loose: it is data handed to ajv and to the OpenAPI generator.
 */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** A YAML key path: a single top-level key (used verbatim, dots included) or a path of keys. */
export type KeyPath = string | readonly string[];

interface DescriptorBase {
  /** Route path under the mount point, starting with `/`, e.g. `/debug`. */
  readonly path: string;
  /** Where the value lives in the YAML config. */
  readonly key: KeyPath;
  /** Name of the field in GET bodies. Default: the last segment of `key`. */
  readonly field?: string;
  /** One line for humans (README, OpenAPI, panel). */
  readonly description?: string;
}

/** A single config value: GET, PUT/PATCH `{"value": v}` (or `{"<field>": v}`), optional DELETE. */
export interface ScalarDescriptor extends DescriptorBase {
  readonly kind: 'scalar';
  /**
   * JSON Schema of the value; its `type` must be `boolean`, `string`, `integer` or `number`.
   * An absent key reads as the schema's `default` when it has one, else as the zero value
   * (`false`, `""`, `0`).
   */
  readonly schema: JsonSchema;
  /**
   * Accepted spellings of a string value: the input is trimmed and lower-cased, then looked up
   * here and stored as the value it maps to; a string that is not a key answers
   * `400 {"error":"invalid <field>"}`. GET shows a stored value through the same map (an
   * unknown one trimmed). Default: none (the value is stored as sent).
   */
  readonly aliases?: Readonly<Record<string, string>>;
  /**
   * When set, `DELETE` writes this value (`/proxy-url` resets to `""`).
   * Default: no DELETE route (it answers 405).
   */
  readonly resetValue?: string | number | boolean;
}

/**
 * A list of non-empty strings (`api-keys`): GET, PUT (replace), PATCH (`{index, value}` or
 * `{old, new}`, which appends when nothing equals `old`), DELETE (`?index=` or every `?value=`).
 * Items are trimmed and must not be blank.
 */
export interface StringArrayDescriptor extends DescriptorBase {
  readonly kind: 'string-array';
}

/**
 * A list of objects matched by one field (`claude-api-key` by `api-key`): GET (absent optional
 * fields filled in), PUT (replace; every item validated), PATCH (`{index, value}` or
 * `{<matchBodyField>: key, value}`), DELETE (`?index=` or every `?<matchQuery>=key`).
 */
export interface ObjectArrayDescriptor extends DescriptorBase {
  readonly kind: 'object-array';
  /**
   * JSON Schema of one item, compiled once with ajv (strict mode): `{"type": "object",
   * "properties": {...}, "required": [...]}`. Unknown fields are allowed and kept. GET shows an
   * absent optional property as its `default`, else as the zero value of its `type` (`""`, `[]`,
   * `false`, `0`, `{}`); nothing is written for it.
   */
  readonly itemSchema: JsonSchema;
  /** The item field that identifies an item, e.g. `api-key` or `name`: a required `string` property of `itemSchema`. */
  readonly matchField: string;
  /** Body field of a PATCH that selects by match field (not `index` or `value`). Default: `matchField`. */
  readonly matchBodyField?: string;
  /** Query parameter of a DELETE that selects by match field (not `index`). Default: `matchField`. */
  readonly matchQuery?: string;
  /**
   * GET values of absent (or null) fields, e.g. `{"base-url": ""}`; nothing is written for them.
   * Default: each optional property of `itemSchema` with its `default`, else the zero value of
   * its `type`. `{}` fills nothing (a filled `weight: 0` written back would change its meaning).
   */
  readonly fill?: Readonly<Record<string, unknown>>;
  /**
   * A second item field that narrows a selection by the match field: `PATCH ?<narrowBy>=u`
   * picks the first item with both values, `DELETE ?<matchQuery>=k&<narrowBy>=u` removes the
   * items with both (trimmed; an empty `u` matches items without the field). Default: none.
   */
  readonly narrowBy?: string;
  /** Fields dropped from every item a client sends (values the server computes). Default: `[]`. */
  readonly dropFields?: readonly string[];
  /**
   * Accepted spellings of string fields, stored as the value each maps to, e.g.
   * `{"fingerprint-profile": {"oauth-cli": "claude-code-cli"}}`. Default: none.
   */
  readonly valueAliases?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * A mapping from a name to a list (`oauth-excluded-models: {codex: [gpt-5]}`): GET the whole map,
 * PUT (replace), PATCH (`{<nameField>: n, <listField>: [...]}` sets one name; an empty list
 * removes it), DELETE `?<nameField>=n`. Normalised on every read and write: names trimmed and
 * lower-cased; blank and repeated names, items the schema refuses and repeated items dropped; a
 * name left with no item removed; an empty map removes the key.
 */
export interface MapDescriptor extends DescriptorBase {
  readonly kind: 'map';
  /** Body field and query parameter naming an entry, e.g. `provider`. */
  readonly nameField: string;
  /** Other accepted spellings of `nameField` in a body or query, e.g. `['provider']`. Default: `[]`. */
  readonly nameAliases?: readonly string[];
  /** Body field of a PATCH holding the entry's list, e.g. `models`. */
  readonly listField: string;
  /**
   * JSON Schema of one list item, compiled once. `{"type": "string"}` items are trimmed and
   * lower-cased (blank and repeated ones dropped); object items have their string fields trimmed.
   */
  readonly itemSchema: JsonSchema;
  /** Object items: the field whose value is unique within an entry (ignoring case; the first is kept). Default: none. */
  readonly uniqueBy?: string;
  /** Object items: two fields that must not hold the same value (ignoring case). Default: none. */
  readonly distinct?: readonly [string, string];
}

/** The folder of JSON token files (`/auth-files`). Its folder is the router's `authDir`. */
export interface FilesDescriptor {
  readonly kind: 'files';
  /** Route path under the mount point, e.g. `/auth-files` (downloads are at `<path>/download`). */
  readonly path: string;
  /** One line for humans (README, OpenAPI, panel). */
  readonly description?: string;
}

/** One row of the resource table: a tagged union by `kind`. */
export type ResourceDescriptor =
  | ScalarDescriptor
  | StringArrayDescriptor
  | ObjectArrayDescriptor
  | MapDescriptor
  | FilesDescriptor;

/** The parsed config as the host sees it: a deep-frozen plain object. */
export interface ProxyConfig {
  /** Who may use the Management API: `allow-remote` and the (hashed) `secret-key`. */
  readonly 'remote-management'?: {
    readonly 'allow-remote'?: boolean;
    readonly 'secret-key'?: string;
    readonly [key: string]: unknown;
  };
  /** Verbose logging of the proxy. */
  readonly debug?: boolean;
  /** Upstream proxy for outgoing requests (`""`, `http(s)://`, `socks5(h)://`). */
  readonly 'proxy-url'?: string;
  /** Log every proxied request. */
  readonly 'request-log'?: boolean;
  /** Retries of a failed upstream request. */
  readonly 'request-retry'?: number;
  /** Loopback clients may use the proxy's client API without a key. */
  readonly 'allow-localhost-unauthenticated'?: boolean;
  /** What the proxy does on a quota error. */
  readonly 'quota-exceeded'?: {
    readonly 'switch-project'?: boolean;
    readonly 'switch-preview-model'?: boolean;
    readonly [key: string]: unknown;
  };
  /** Keys the proxy's own clients authenticate with. */
  readonly 'api-keys'?: readonly string[];
  readonly [key: string]: unknown;
}

/** What caused a config change. */
export interface ConfigChange {
  /**
   * `api`: a request through this router (or this process's key hashing); `file`: an edit of
   * the config file on disk (by hand, or by another process sharing the file); `replica`: with a
   * shared engine (PostgreSQL), a change committed through another replica.
   */
  readonly source: 'api' | 'file' | 'replica';
  /**
   * The id of the change's history entry (with several requests in one commit, the newest);
   * absent when history is off, for a change this replica only heard of, and when the change
   * has no entry (an edit outside the API while history could not be written).
   */
  readonly id?: string;
  /** The ids of every history entry of the change, oldest first (present with `id`). */
  readonly ids?: readonly string[];
}

/** Called after every change of the config, with the new config. */
export type ConfigListener = (config: ProxyConfig, change: ConfigChange) => void;

/** Options of {@link createManagementRouter}. Every one is optional. */
export interface ManagementOptions {
  /** Largest JSON request body, bytes or a `bytes` string such as `'1mb'`. Default: `1048576` (1 MiB). */
  readonly bodyLimit?: number | string;
  /** Largest uploaded auth file in bytes. Default: `1048576` (1 MiB). */
  readonly uploadLimit?: number;
  /** Most `file` parts one multipart upload to `/auth-files` may hold; more is `413 too many files`. Default: `50`. */
  readonly uploadMaxFiles?: number;
  /** Wrong keys from one IP before it is locked out. Default: `5`. */
  readonly maxAttempts?: number;
  /**
   * IPv6 clients are counted by network for the lock-out, not by exact address (one user holds
   * a whole prefix): the prefix length, from 32 to 128 (128: exact addresses). IPv4 and
   * IPv4-mapped addresses always count exactly. Default: `56`.
   */
  readonly ipv6Subnet?: number;
  /** How long a lock-out (and the failure window) lasts, in ms. Default: `1800000` (30 minutes). */
  readonly lockoutMs?: number;
  /**
   * Where failed attempts are counted. Default: the storage engine's shared store when it has
   * one (PostgreSQL), else a new {@link MemoryLockoutStore}.
   */
  readonly lockoutStore?: LockoutStore;
  /**
   * Where the config and the token files live. Default: `fileStorage()`, the YAML file at
   * `configPath` and the folder `authDir` on this machine. `postgresStorage(...)` from
   * `cli-proxy-management/postgres` shares both between replicas.
   */
  readonly storage?: Storage;
  /**
   * Extra client addresses or CIDR ranges treated as local, besides loopback
   * (e.g. `['172.17.0.0/16']` for a Docker bridge). Default: `[]`.
   */
  readonly localAddresses?: readonly string[];
  /**
   * Answer CORS preflights and send CORS headers. `true` allows any origin (`*`; no cookies are
   * used); an object sets the allowed origin. Default: `false` (off).
   */
  readonly cors?: boolean | { readonly origin: string };
  /** Extra rows appended to the built-in resource table. Default: `[]`. */
  readonly resources?: readonly ResourceDescriptor[];
  /** bcrypt cost used when hashing a plaintext management key, from 4 to 31 (bcrypt's range). Default: `10`. */
  readonly bcryptRounds?: number;
  /** Watch the config file for edits on disk. Default: `true`. */
  readonly watch?: boolean;
  /** Called after every config change. Default: none (use `router.onChange`). */
  readonly onChange?: ConfigListener;
  /** Where warnings go (never with a secret in them). Default: `console`. */
  readonly logger?: Logger;
  /**
   * Serve the built-in web panel at `<mount>/panel/`, generated from the resource table
   * (host rows included). Its files need no key (the API calls it makes do) but follow the
   * disabled-API and remote rules of the API. Default: `false` (off).
   */
  readonly panel?: boolean;
  /**
   * Serve the OpenAPI 3.1 description of this router (its whole resource table) at
   * `GET /openapi.json`, behind the same access control as every other route. Default: `false`.
   */
  readonly openapi?: boolean;
  /**
   * Keep a history of every accepted change of the config (who, when, the diff with the key
   * hidden) at `GET /config/history`, and undo one with `POST /config/history/:id/revert`.
   * `maxEntries` (default `1000`) and `maxBytes` (default 8 MiB) bound it: older entries are
   * dropped. File engine: the journal is `file` (default: the config's real path + `.history`,
   * mode 0600), written with each change before its answer. `false`: nothing is kept and the
   * routes are not mounted. Default: on.
   */
  readonly history?:
    false | { readonly maxEntries?: number; readonly maxBytes?: number; readonly file?: string };
  /**
   * Cross-process lock of the config file (a `<config>.lock` folder next to it, with
   * `proper-lockfile`): a lock left by a process that died is taken over once it has not been
   * refreshed for this many ms (the holder refreshes it every half of that). A writer waits for
   * the lock up to three times this long, then fails with a 500. Minimum `2000`.
   * Default: `10000` (10 s). File engine only (`fileStorage({ lockStaleMs })` when `storage` is given).
   */
  readonly lockStaleMs?: number;
  /**
   * What the router says about the host in the `X-CPA-VERSION`, `X-CPA-COMMIT` and
   * `X-CPA-BUILD-DATE` headers of every answer (the current Management Center shows version and
   * build date). Each is a short printable string; an unset one sends no header.
   * Default: `{}` (none of the three).
   */
  readonly serverInfo?: ServerInfo;
  /**
   * The running proxy's hooks: each mounts the routes that need it (`GET /api-key-usage`,
   * `GET /logs`, `POST /api-call`...) and a route whose hook is absent answers `404` as before.
   * Default: `{}` (none).
   */
  readonly runtime?: ManagementRuntime;
  /** Routes of the host under the mount, behind the same access control, CORS and headers. Default: `[]`. */
  readonly routes?: readonly HostRoute[];
  /** How long a hook may take, ms (at least `100`); then `504 {"error":"runtime timeout"}`. Default: `30000`. */
  readonly hookTimeoutMs?: number;
  /** How long the whole outbound request of `POST /api-call` may take, ms (at least `100`). Default: `60000`. */
  readonly apiCallTimeoutMs?: number;
  /** Largest upstream body `POST /api-call` reads, bytes; more is `502`. Default: `10485760` (10 MiB). */
  readonly apiCallMaxBytes?: number;
  /**
   * OAuth logins run by the library (the panel's OAuth page): the providers the host declares
   * and the session limits. Default: none (the login routes answer `404`; `POST /vertex/import`
   * is mounted anyway). See `OAuthOptions`.
   */
  readonly oauth?: OAuthOptions;
  /**
   * Told after a login, an upload to `/auth-files` or a Vertex import wrote a token file, so a
   * host need not watch `authDir`. A throw is logged and ignored. Default: none.
   */
  readonly onAuthFile?: AuthFileListener;
}

/** The host's version details, sent as `X-CPA-*` response headers. */
export interface ServerInfo {
  /** e.g. `'6.9.1'`: `X-CPA-VERSION`. */
  readonly version?: string;
  /** e.g. a git commit: `X-CPA-COMMIT`. */
  readonly commit?: string;
  /** e.g. `'2026-11-27T10:00:00Z'`: `X-CPA-BUILD-DATE`. */
  readonly buildDate?: string;
}

/** What the host gets besides the Express router. */
export interface ManagementHandle {
  /** The current config: deep-frozen, served from memory. */
  getConfig(): ProxyConfig;
  /** Subscribe to config changes; returns the unsubscribe function. */
  onChange(listener: ConfigListener): () => void;
  /** Resolves once start-up work (hashing a plaintext key) is done. */
  ready(): Promise<void>;
  /** Re-read the config file now, as the watcher would. */
  reload(): Promise<void>;
  /** Stop watching the config file; pending writes finish first. */
  close(): Promise<void>;
  /** The resource table this router was built from (built-in rows plus `options.resources`). */
  readonly resources: readonly ResourceDescriptor[];
}

/** The value of {@link createManagementRouter}: an Express router plus the host API. */
export type ManagementRouter = Router & ManagementHandle;
