import { BlockList, isIP } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { allowRemote, configuredSecret, SecretVerifier } from '../store/secret';
import type { ConfigStore } from '../store/config-store';
import type { LockoutRecord, LockoutStore } from '../types';
import { HttpError, sendError } from './errors';
import { ManagementError } from '../errors';

export interface AccessSettings {
  readonly maxAttempts: number;
  readonly store: LockoutStore;
  readonly localAddresses: readonly string[];
  readonly now: () => number;
}

/** Strip the IPv4-mapped IPv6 prefix: `::ffff:127.0.0.1` is `127.0.0.1`. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m ? (m[1] as string) : ip;
}

/** Loopback plus the host's extra addresses/ranges; validated at construction. */
export function buildLocalList(extra: readonly string[]): BlockList {
  const list = new BlockList();
  list.addSubnet('127.0.0.0', 8, 'ipv4');
  list.addAddress('::1', 'ipv6');
  for (const entry of extra) {
    const [addr = '', bits] = entry.split('/');
    const family = isIP(addr);
    const prefix = bits === undefined ? undefined : Number(bits);
    const max = family === 4 ? 32 : 128;
    if (family === 0 || (prefix !== undefined && (!/^\d+$/.test(bits ?? '') || prefix > max))) {
      throw new ManagementError('ERR_INVALID_OPTION', `localAddresses: not an IP address or CIDR range: ${entry}`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, prefix, type);
  }
  return list;
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

/** The two halves of access control; the router mounts the public panel files between them. */
export interface AccessMiddleware {
  /** Disabled API is invisible (`next('router')`); remote clients get 403 unless allowed. */
  readonly remote: (req: Request, res: Response, next: NextFunction) => void;
  /** Key present, lock-out, key valid. */
  readonly key: (req: Request, res: Response, next: NextFunction) => void;
  /** `remote` then `key` as one middleware, for a router that mounts nothing between them. */
  readonly both: (req: Request, res: Response, next: NextFunction) => void;
}

/**
 * Access control, in order: disabled API is invisible (`next('router')`), remote check,
 * key present, lock-out, key valid. Re-evaluated on every request from the in-memory config.
 * Mount `remote` then `key`; anything mounted between them (the panel's files) is public to
 * local clients but still invisible when the API is disabled and closed to remote clients.
 *
 * The steady state (a local client, the key that verified before, a lock-out store that answers
 * synchronously like the memory one) runs without a promise or a microtask: one keyed digest of the
 * presented key and a few memoised lookups. Only a key not seen before pays bcrypt, asynchronously.
 */
export function accessControl(store: ConfigStore, settings: AccessSettings): AccessMiddleware {
  const verifier = new SecretVerifier();
  const local = buildLocalList(settings.localAddresses);
  const { store: lockout, maxAttempts } = settings;

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

  function remote(req: Request, res: Response, next: NextFunction): void {
    const config = store.config;
    if (configuredSecret(config).value === '') return next('router'); // disabled between the gate and here
    if (!allowRemote(config) && !isLocal(local, req.ip)) {
      return sendError(res, new HttpError(403, 'remote management disabled'));
    }
    next();
  }

  function key(req: Request, res: Response, next: NextFunction): void {
    try {
      const secret = configuredSecret(store.config).value;
      if (secret === '') return next('router');
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

  return { remote, key, both };
}
