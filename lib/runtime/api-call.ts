// POST /api-call: a request the panel asks the proxy to send with a credential's token. Every
// member is checked before anything is sent; the token goes only into header values holding
// `$TOKEN$`; the caller's own headers (its management key) never leave; redirects are answered,
// not followed; no answer or log line holds a header value, the token, the URL's query or a proxy.
import { HttpError } from '../http/errors';
import { sendJson } from '../http/reply';
import { isPlainObject } from '../plain-data';
import { asString } from '../config/typed';
import type { RuntimeContext } from './context';
import { clientGone, errorName, hookErrorAnswer, ShapeError } from './hook-call';
import * as shape from './shapes';
import type { ApiCallCredential, OutboundRequest } from './types';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Header names no caller may set: they belong to the connection or to the transport. */
const FORBIDDEN = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'expect',
]);
const TOKEN_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MAX_HEADERS = 64;
const MAX_HEADER_BYTES = 32 * 1024;
const MAX_URL = 8 * 1024;
const TOKEN = '$TOKEN$';
/** As the config's `proxy-url`: http(s) or socks5(h) with a host. */
const PROXY_URL = /^(?:https?|socks5h?):\/\/[^\s/?#\p{Cc}]+(?:[/?#][^\s\p{Cc}]*)?$/iu;

/** A header value may not hold CR, LF or NUL. */
const breaksLine = (v: string): boolean =>
  v.includes('\r') || v.includes('\n') || v.includes('\u0000');

const bad = (error: string, details?: string): HttpError => new HttpError(400, error, details);

/** A proxy setting: `undefined` none given, `null` direct, else the URL. Throws `invalid` for another value. */
function proxyOf(raw: string | undefined, invalid: () => Error): string | null | undefined {
  const v = raw?.trim() ?? '';
  if (v === '') return undefined;
  if (/^(?:direct|none)$/i.test(v)) return null;
  if (!PROXY_URL.test(v)) throw invalid();
  return v;
}

interface Checked {
  readonly index: string | undefined;
  readonly method: string;
  readonly url: string;
  readonly header: readonly [string, string][];
  readonly data: string | undefined;
  readonly proxy: string | null | undefined;
}

/** The body's members, every rule checked (each failure a `400`). */
function check(body: unknown): Checked {
  if (!isPlainObject(body)) throw bad('invalid body');
  for (const name of [
    'auth_index',
    'authIndex',
    'AuthIndex',
    'method',
    'url',
    'data',
    'proxy_url',
  ] as const) {
    if (body[name] !== undefined && typeof body[name] !== 'string') throw bad('invalid body');
  }
  const index = (['auth_index', 'authIndex', 'AuthIndex'] as const)
    .map((n) => (body[n] as string | undefined)?.trim())
    .find((v) => v !== undefined && v !== '');
  const method = ((body.method as string | undefined) ?? '').trim().toUpperCase();
  if (method === '') throw bad('missing method');
  if (!METHODS.has(method)) throw bad('invalid method');
  const url = ((body.url as string | undefined) ?? '').trim();
  if (url === '') throw bad('missing url');
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (
    !parsed ||
    (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
    parsed.hostname === '' ||
    url.length > MAX_URL
  )
    throw bad('invalid url');
  const proxy = proxyOf(body.proxy_url as string | undefined, () => bad('invalid proxy_url'));
  const header: [string, string][] = [];
  if (body.header !== undefined && body.header !== null) {
    if (!isPlainObject(body.header)) throw bad('invalid body');
    const entries = Object.entries(body.header);
    if (entries.length > MAX_HEADERS)
      throw bad('invalid header', `more than ${MAX_HEADERS} headers`);
    let bytes = 0;
    for (const [name, value] of entries) {
      const lower = name.toLowerCase();
      if (!TOKEN_NAME.test(name) || FORBIDDEN.has(lower) || lower.startsWith('proxy-'))
        throw bad('invalid header', name);
      if (typeof value !== 'string' || breaksLine(value)) throw bad('invalid header', name);
      bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
      if (bytes > MAX_HEADER_BYTES) throw bad('invalid header', name);
      header.push([name, value]);
    }
  }
  const data = body.data as string | undefined;
  if ((method === 'GET' || method === 'HEAD') && data !== undefined && data !== '')
    throw bad('invalid body');
  const sendsData = data !== undefined && !(data === '' && (method === 'GET' || method === 'HEAD'));
  return { index, method, url, header, data: sendsData ? data : undefined, proxy };
}

function credentialShape(value: unknown): ApiCallCredential | undefined {
  if (value === undefined) return undefined;
  const o = shape.object(value, '$');
  const token = o.token === undefined ? undefined : shape.string(o.token, '$.token');
  if (token !== undefined && breaksLine(token)) throw new ShapeError('$.token');
  const proxyUrl = o.proxyUrl === undefined ? undefined : shape.string(o.proxyUrl, '$.proxyUrl');
  if (proxyUrl !== undefined) proxyOf(proxyUrl, () => new ShapeError('$.proxyUrl'));
  return {
    ...(token !== undefined ? { token } : {}),
    ...(proxyUrl !== undefined ? { proxyUrl } : {}),
  };
}

/** Read at most `max` bytes of `body`; more is `502 response too large`. */
async function readCapped(response: Response, max: number): Promise<Buffer> {
  if (!response.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > max) {
      await response.body.cancel().catch(() => undefined);
      throw new HttpError(502, 'response too large');
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** The upstream answer's headers: lower-case names, every value. */
function headerMap(headers: Headers): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  headers.forEach((value, name) => {
    if (name === 'set-cookie') return;
    out[name] = [value];
  });
  const cookies = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : [];
  if (cookies.length > 0) out['set-cookie'] = cookies;
  return out;
}

/** `POST /api-call`, mounted with `apiCallCredential`. */
export function apiCallRoute(rc: RuntimeContext): void {
  const { apiCallCredential, apiCallFetch } = rc.runtime.hooks;
  if (!apiCallCredential) return;
  const { apiCallTimeoutMs, apiCallMaxBytes } = rc.runtime;
  rc.add(
    '/api-call',
    'POST',
    async (req, res) => {
      const call = check(req.body);
      const needsToken = call.header.some(([, v]) => v.includes(TOKEN));
      const credential =
        call.index === undefined
          ? undefined
          : await rc.runner.call(
              'apiCallCredential',
              req,
              res,
              (ctx) => apiCallCredential(call.index as string, ctx),
              credentialShape,
            );
      if (needsToken && (credential?.token === undefined || credential.token === ''))
        throw bad('auth token not found');
      const config = rc.runner.snapshot(req);
      // The first that says anything: the body, the credential, the config; `direct`/`none` (null) is an answer too.
      let proxy = call.proxy;
      if (proxy === undefined) proxy = proxyOf(credential?.proxyUrl, () => new Error('checked'));
      if (proxy === undefined)
        proxy = proxyOf(
          asString(config['proxy-url']).value,
          () =>
            new HttpError(
              502,
              'request failed',
              undefined,
              undefined,
              'invalid proxy-url in config',
            ),
        );
      if (proxy === undefined) proxy = null;
      if (proxy !== null && !apiCallFetch)
        throw new HttpError(502, 'request failed', undefined, undefined, 'no transport for proxy');
      const headers = new Headers();
      for (const [name, value] of call.header)
        headers.append(name, credential?.token ? value.split(TOKEN).join(credential.token) : value);

      const gone = clientGone(res);
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new Error('timeout'));
      }, apiCallTimeoutMs);
      const onGone = (): void => controller.abort(new Error('client gone'));
      gone.signal.addEventListener('abort', onGone, { once: true });
      const request: OutboundRequest = {
        method: call.method,
        url: call.url,
        headers,
        ...(call.data !== undefined ? { body: call.data } : {}),
        ...(proxy !== null ? { proxyUrl: proxy } : {}),
        signal: controller.signal,
        redirect: 'manual',
      };
      try {
        const response = apiCallFetch
          ? await apiCallFetch(request, { config, signal: controller.signal })
          : await fetch(call.url, {
              method: call.method,
              headers,
              body: request.body,
              redirect: 'manual',
              signal: controller.signal,
            });
        if (
          typeof (response as Partial<Response> | undefined)?.status !== 'number' ||
          typeof (response as Partial<Response>).headers?.forEach !== 'function'
        )
          throw new ShapeError('$');
        const body = await readCapped(response, apiCallMaxBytes);
        sendJson(res, {
          status_code: response.status,
          header: headerMap(response.headers),
          body: new TextDecoder('utf-8').decode(body),
        });
      } catch (err) {
        if (err instanceof HttpError) throw err;
        if (timedOut) throw new HttpError(504, 'request timed out');
        const answer = hookErrorAnswer(err);
        if (answer) throw answer;
        if (err instanceof ShapeError) throw rc.runner.failure('apiCallFetch', err);
        rc.logger.warn(`cli-proxy-management: api-call request failed (${errorName(err)})`);
        throw new HttpError(502, 'request failed');
      } finally {
        clearTimeout(timer);
        gone.signal.removeEventListener('abort', onGone);
        gone.done();
      }
    },
    [rc.json],
  );
}
