import { isIP, type BlockList } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { allowRemote, configuredSecret, SecretVerifier } from '../config/secret';
import type { ConfigStore } from '../config/store';
import type { LockoutRecord, LockoutStore } from '../types';
import type { Snapshot } from '../config/typed';
import { HttpError, sendError } from './errors';

export interface AccessSettings {
  readonly maxAttempts: number;
  readonly store: LockoutStore;
  /** Loopback plus `localAddresses`, compiled by the settings. */
  readonly localList: BlockList;
  readonly now: () => number;
  /** Headers every answer of the visible API carries (the `X-CPA-*` ones of `serverInfo`). Default: none. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Prefix length by which IPv6 clients are counted. */
  readonly ipv6Subnet: number;
}

/** Strip the IPv4-mapped IPv6 prefix: `::ffff:127.0.0.1` is `127.0.0.1`. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m ? (m[1] as string) : ip;
}

/** Answers per list and address string, remembered (a `BlockList` check allocates; the list never changes). */
const localMemo = new WeakMap<BlockList, Map<string, boolean>>();
const LOCAL_MEMO_SIZE = 1024;

export function isLocal(list: BlockList, ip: string | undefined): boolean {
  if (!ip) return false;
  let memo = localMemo.get(list);
  if (!memo) localMemo.set(list, (memo = new Map()));
  let answer = memo.get(ip);
  if (answer === undefined) {
    answer = checkLocal(list, ip);
    if (memo.size >= LOCAL_MEMO_SIZE) memo.clear();
    memo.set(ip, answer);
  }
  return answer;
}

function checkLocal(list: BlockList, ip: string): boolean {
  const addr = normalizeIp(ip);
  const family = isIP(addr);
  if (family === 0) return false;
  return list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
}

/** Node gives header values as Latin-1 (one char per byte); the bytes are UTF-8. */
const utf8 = (value: string): string =>
  /[\u0080-\u00ff]/.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;

/**
 * `Authorization: Bearer <key>` (any case), a bare `Authorization: <key>`, or `X-Management-Key`.
 * A scheme with nothing after it (`Bearer `, a script's unset variable) is no key, and the next
 * header is tried. Header bytes are read as UTF-8.
 */
export function presentedKey(req: Request): string {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const value = auth.trim();
    const m = /^bearer(?:\s+(.*))?$/is.exec(value);
    const key = (m ? (m[1] ?? '') : value).trim();
    if (key !== '') return utf8(key);
  }
  const header = req.headers['x-management-key'];
  const value = Array.isArray(header) ? header[0] : header;
  return typeof value === 'string' ? utf8(value.trim()) : '';
}

/** The 16 bytes of an IPv6 address (zone dropped), or `undefined`. */
function ipv6Bytes(address: string): number[] | undefined {
  let addr = address.replace(/%.*$/, '');
  const tail: number[] = [];
  const v4 = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(addr);
  if (v4) {
    if (isIP(v4[1] as string) !== 4) return undefined;
    for (const part of (v4[1] as string).split('.')) tail.push(Number(part));
    addr = addr.slice(0, -(v4[1] as string).length) + '0:0';
  }
  const halves = addr.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - rest.length;
  if ((halves.length === 2 && fill < 0) || (halves.length === 1 && fill !== 0)) return undefined;
  const all = [...head, ...Array<string>(Math.max(fill, 0)).fill('0'), ...rest];
  const bytes: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    const n = parseInt(g, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes.length === 16 ? bytes : undefined;
}

/**
 * The lock-out counts per client: an IPv4 address (or an IPv4-mapped IPv6 one) exactly, an
 * IPv6 address by its `/ipv6Subnet` network (one user holds a whole prefix, /64 at the least).
 * The network is written as its first `bits` groups (`2001:db8:1:ab00::/56`).
 */
export function lockoutKey(ip: string | undefined, ipv6Subnet: number): string {
  if (!ip) return 'unknown';
  const addr = normalizeIp(ip);
  if (isIP(addr.replace(/%.*$/, '')) !== 6) return addr;
  const bytes = ipv6Bytes(addr);
  if (!bytes) return addr;
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return bytes.slice(12).join('.'); // ::ffff:c633:6407
  for (let i = 0; i < 16; i++) {
    const keep = Math.min(8, Math.max(0, ipv6Subnet - i * 8));
    bytes[i] = (bytes[i] as number) & ((0xff << (8 - keep)) & 0xff);
  }
  const groups: string[] = [];
  const shown = Math.ceil(ipv6Subnet / 16);
  for (let g = 0; g < shown; g++)
    groups.push((((bytes[2 * g] as number) << 8) | (bytes[2 * g + 1] as number)).toString(16));
  return `${groups.join(':')}${shown < 8 ? '::' : ''}/${ipv6Subnet}`;
}

const retryAfter = (record: LockoutRecord, now: number): string =>
  String(Math.max(1, Math.ceil((record.resetTime - now) / 1000)));

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> =>
  typeof (v as Promise<T> | undefined)?.then === 'function';

type Middleware = (req: Request, res: Response, next: NextFunction) => void;

/** What runs after the checks let a request in, when nothing is mounted after them: `next()`. */
const goOn: Middleware = (_req, _res, next) => next();

/** Lock-out keys remembered per address string (the address of a keep-alive client repeats). */
const CLIENT_MEMO_SIZE = 1024;

/** The parts of access control; the router mounts CORS after `gate` and the public panel files between `remote` and `key`. */
export interface AccessMiddleware {
  /**
   * The one decision whether the API exists for this request: no key configured means it is
   * invisible (`next('router')`, the host's own 404 answers). Otherwise the request keeps the
   * config snapshot it was decided on (the checks after it read that same snapshot) and every
   * response of the API gets `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`.
   */
  readonly gate: (req: Request, res: Response, next: NextFunction) => void;
  /** Remote clients get 403 unless remote management is allowed. */
  readonly remote: (req: Request, res: Response, next: NextFunction) => void;
  /** Key present, lock-out, key valid. */
  readonly key: (req: Request, res: Response, next: NextFunction) => void;
  /** `remote` then `key` as one middleware, for a router that mounts nothing between them. */
  readonly both: (req: Request, res: Response, next: NextFunction) => void;
  /**
   * `gate`, `remote` and `key`, then `then` for a request they let in, as one middleware (one
   * router layer, `req.ip` read once), for a router with no CORS and no panel.
   */
  readonly guard: (then: Middleware) => Middleware;
  /** The config snapshot `gate` admitted the request on (the live config for a request it did not see). */
  readonly snapshot: (req: Request) => Snapshot;
}

/**
 * Access control, in order: disabled API is invisible (`gate`), remote check, key present,
 * lock-out, key valid. Decided on every request from the in-memory config, once: `gate` takes
 * the snapshot and the later checks read it. Mount `gate`, then `remote` then `key`; anything
 * mounted between `remote` and `key` (the panel's files) is public to local clients but still
 * invisible when the API is disabled and closed to remote clients.
 *
 * The steady state (a local client, the key that verified before, a lock-out store that answers
 * synchronously like the memory one) runs without a promise or a microtask: one keyed digest of the
 * presented key and a few memoised lookups. Only a key not seen before pays bcrypt, asynchronously.
 */
export function accessControl(store: ConfigStore, settings: AccessSettings): AccessMiddleware {
  const verifier = new SecretVerifier();
  const { store: lockout, maxAttempts, localList: local } = settings;
  const extraHeaders = Object.entries(settings.headers ?? {});
  /**
   * Where the gate keeps the config snapshot it decided on, for the checks after it. One key per
   * router: a request that passes through two routers (two mounts) never reads the other's.
   */
  const SNAPSHOT: unique symbol = Symbol('cli-proxy-management.access');
  type GatedRequest = Request & { [SNAPSHOT]?: Snapshot };
  /** The gate's snapshot (the live config only if a half is mounted without the gate). */
  const snapshot = (req: Request): Snapshot => (req as GatedRequest)[SNAPSHOT] ?? store.snapshot;

  const locked = (res: Response, record: LockoutRecord): void =>
    sendError(
      res,
      new HttpError(429, 'too many failed attempts', undefined, {
        'Retry-After': retryAfter(record, settings.now()),
      }),
    );

  /**
   * After the lock-out lookup: locked, cached key, or a guess. A guess is counted when it
   * arrives, before bcrypt (and forgotten again when it was right): a burst of parallel guesses
   * then gets no more bcrypt compares than a sequence, since the guesses in flight count too.
   */
  function checkKey(
    req: Request,
    res: Response,
    next: NextFunction,
    pass: Middleware,
    client: string,
    key: string,
    secret: string,
    record: LockoutRecord | undefined,
  ): void {
    if (record && record.failures >= maxAttempts) return locked(res, record);
    if (verifier.verified(key, secret)) {
      if (!record) return pass(req, res, next);
      const done = lockout.reset(client);
      if (isPromise(done)) done.then(() => pass(req, res, next), next);
      else pass(req, res, next);
      return;
    }
    void guess(req, res, next, pass, client, key, secret);
  }

  /** Guesses being checked, by client and key tag: the same key sent again meanwhile is the same guess. */
  const pending = new Map<string, Promise<LockoutRecord | boolean>>();

  /** Count the guess, then (when not over the limit) bcrypt it: the locking record, or whether it was right. */
  async function judge(
    client: string,
    key: string,
    secret: string,
  ): Promise<LockoutRecord | boolean> {
    const counted = await lockout.increment(client);
    if (counted.failures > maxAttempts) return counted;
    if (!(await verifier.verify(key, secret))) return false;
    await lockout.reset(client);
    return true;
  }

  /**
   * One guess: counted on arrival, before bcrypt, so a burst of different keys gets no more
   * compares than a sequence. Requests carrying a key that is being checked for the same client
   * wait for that check instead of counting again (a client's parallel first requests with the
   * right key are one guess, not a lock-out).
   */
  async function guess(
    req: Request,
    res: Response,
    next: NextFunction,
    pass: Middleware,
    client: string,
    key: string,
    secret: string,
  ): Promise<void> {
    let verdict: LockoutRecord | boolean;
    try {
      const id = `${client}\u0000${verifier.tag(key)}`;
      let check = pending.get(id);
      if (!check) {
        check = judge(client, key, secret);
        pending.set(id, check);
        const forget = (): void => void pending.delete(id);
        check.then(forget, forget);
      }
      verdict = await check;
    } catch (err) {
      return next(err);
    }
    if (verdict === true) return pass(req, res, next);
    if (verdict === false) return sendError(res, new HttpError(401, 'invalid management key'));
    locked(res, verdict);
  }

  /** The gate's decision: the config snapshot with the headers set, or `undefined` when no key is configured (the API is invisible). */
  function open(res: Response): Snapshot | undefined {
    const config = store.snapshot;
    if (configuredSecret(config).value === '') return undefined;
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    for (const [name, value] of extraHeaders) res.setHeader(name, value);
    return config;
  }

  function gate(req: Request, res: Response, next: NextFunction): void {
    const config = open(res);
    if (!config) return next('router');
    (req as GatedRequest)[SNAPSHOT] = config;
    next();
  }

  const clients = new Map<string, string>();
  function clientOf(ip: string | undefined): string {
    if (!ip) return lockoutKey(ip, settings.ipv6Subnet);
    let client = clients.get(ip);
    if (client === undefined) {
      client = lockoutKey(ip, settings.ipv6Subnet);
      if (clients.size >= CLIENT_MEMO_SIZE) clients.clear();
      clients.set(ip, client);
    }
    return client;
  }

  /** False (and the 403 sent) when a remote client may not manage. `ip` is `req.ip`, read once per request by the caller (it runs proxy-addr). */
  function remoteAllowed(config: Snapshot, res: Response, ip: string | undefined): boolean {
    if (!allowRemote(config) && !isLocal(local, ip)) {
      sendError(res, new HttpError(403, 'remote management disabled'));
      return false;
    }
    return true;
  }

  function checkPresentedKey(
    config: Snapshot,
    req: Request,
    res: Response,
    next: NextFunction,
    pass: Middleware,
    ip: string | undefined,
  ): void {
    try {
      const secret = configuredSecret(config).value;
      const key = presentedKey(req);
      if (key === '') return sendError(res, new HttpError(401, 'missing management key'));
      const client = clientOf(ip);
      const record = lockout.get(client);
      if (isPromise(record)) {
        record.then((r) => checkKey(req, res, next, pass, client, key, secret, r), next);
        return;
      }
      checkKey(req, res, next, pass, client, key, secret, record);
    } catch (err) {
      next(err);
    }
  }

  function remote(req: Request, res: Response, next: NextFunction): void {
    if (remoteAllowed(snapshot(req), res, req.ip)) next();
  }

  function key(req: Request, res: Response, next: NextFunction): void {
    checkPresentedKey(snapshot(req), req, res, next, goOn, req.ip);
  }

  function both(req: Request, res: Response, next: NextFunction): void {
    const ip = req.ip;
    const config = snapshot(req);
    if (remoteAllowed(config, res, ip)) checkPresentedKey(config, req, res, next, goOn, ip);
  }

  // The whole check in one call: the snapshot is a local, not a property added to the request.
  const guard = (then: Middleware): Middleware =>
    function guarded(req, res, next) {
      const config = open(res);
      if (!config) return next('router');
      const ip = req.ip;
      if (remoteAllowed(config, res, ip)) checkPresentedKey(config, req, res, next, then, ip);
    };

  return { gate, remote, key, both, guard, snapshot };
}
