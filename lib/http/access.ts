import { isIP, type BlockList } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { allowRemote, configuredSecret, SecretVerifier } from '../store/secret';
import type { ConfigStore } from '../store/config-store';
import type { LockoutRecord, LockoutStore, ProxyConfig } from '../types';
import { HttpError, sendError } from './errors';

export interface AccessSettings {
  readonly maxAttempts: number;
  readonly store: LockoutStore;
  /** Loopback plus `localAddresses`, compiled by the settings. */
  readonly localList: BlockList;
  readonly now: () => number;
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

/** `Authorization: Bearer <key>` (any case), a bare `Authorization: <key>`, or `X-Management-Key`. */
export function presentedKey(req: Request): string {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.trim() !== '') {
    const m = /^bearer\s+(.*)$/i.exec(auth.trim());
    return (m ? (m[1] as string) : auth).trim();
  }
  const header = req.headers['x-management-key'];
  const value = Array.isArray(header) ? header[0] : header;
  return typeof value === 'string' ? value.trim() : '';
}

const retryAfter = (record: LockoutRecord, now: number): string =>
  String(Math.max(1, Math.ceil((record.resetTime - now) / 1000)));

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> => typeof (v as Promise<T> | undefined)?.then === 'function';

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
  /**
   * Where the gate keeps the config snapshot it decided on, for the checks after it. One key per
   * router: a request that passes through two routers (two mounts) never reads the other's.
   */
  const SNAPSHOT: unique symbol = Symbol('cli-proxy-management.access');
  type GatedRequest = Request & { [SNAPSHOT]?: ProxyConfig };
  /** The gate's snapshot (the live config only if a half is mounted without the gate). */
  const snapshot = (req: Request): ProxyConfig => (req as GatedRequest)[SNAPSHOT] ?? store.config;

  /** After the lock-out lookup: locked, cached key, or the full (async) bcrypt check. */
  function checkKey(res: Response, next: NextFunction, client: string, key: string, secret: string, record: LockoutRecord | undefined): void {
    if (record && record.failures >= maxAttempts) {
      return sendError(
        res,
        new HttpError(429, 'too many failed attempts', undefined, { 'Retry-After': retryAfter(record, settings.now()) }),
      );
    }
    if (verifier.verified(key, secret)) {
      if (!record) return next();
      const done = lockout.reset(client);
      if (isPromise(done)) done.then(() => next(), next);
      else next();
      return;
    }
    void slowCheck(res, next, client, key, secret, record);
  }

  async function slowCheck(res: Response, next: NextFunction, client: string, key: string, secret: string, record: LockoutRecord | undefined): Promise<void> {
    try {
      if (!(await verifier.verify(key, secret))) {
        await lockout.increment(client);
        return sendError(res, new HttpError(401, 'invalid management key'));
      }
      if (record) await lockout.reset(client);
    } catch (err) {
      return next(err);
    }
    next();
  }

  function gate(req: Request, res: Response, next: NextFunction): void {
    const config = store.config;
    if (configuredSecret(config).value === '') return next('router');
    (req as GatedRequest)[SNAPSHOT] = config;
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  }

  function remote(req: Request, res: Response, next: NextFunction): void {
    if (!allowRemote(snapshot(req)) && !isLocal(local, req.ip)) {
      return sendError(res, new HttpError(403, 'remote management disabled'));
    }
    next();
  }

  function key(req: Request, res: Response, next: NextFunction): void {
    try {
      const secret = configuredSecret(snapshot(req)).value;
      const key = presentedKey(req);
      if (key === '') return sendError(res, new HttpError(401, 'missing management key'));
      const client = req.ip ?? 'unknown';
      const record = lockout.get(client);
      if (isPromise(record)) {
        record.then((r) => checkKey(res, next, client, key, secret, r), next);
        return;
      }
      checkKey(res, next, client, key, secret, record);
    } catch (err) {
      next(err);
    }
  }

  function both(req: Request, res: Response, next: NextFunction): void {
    remote(req, res, (err?: unknown) => (err === undefined ? key(req, res, next) : next(err)));
  }

  return { gate, remote, key, both };
}
