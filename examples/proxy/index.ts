/**
 * An existing Express API proxy that imports the Management API.
 *
 * The proxy forwards `/v1/*` to an upstream API. Its own clients authenticate with one of the
 * config's `api-keys`, read from `management.getConfig()` on every request: a key added through
 * the Management API (`PUT /v0/management/api-keys`) or by editing config.yaml works on the very
 * next request, without a restart and without the proxy keeping a copy of its own. The same goes
 * for `allow-localhost-unauthenticated` (loopback clients need no key) and `request-log`.
 *
 *   UPSTREAM=https://api.example.com npx tsx examples/proxy/index.ts
 *
 * Without `CONFIG` (and `AUTH_DIR`) it uses the demo's `demo-data/config.yaml`; `PORT`/`HOST`
 * set where it listens (see `examples/demo/cli.ts`).
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { createManagementRouter, type ManagementOptions, type ManagementRouter } from '../../lib'; // 'cli-proxy-management'
import { runExample } from '../demo/cli';
import { upstreamProviders } from './oauth-providers';

export interface ProxyOptions {
  /** Base URL requests to `/v1/*` are forwarded to, e.g. `https://api.example.com`. */
  upstream: string;
  /** Options of the Management API router. */
  management?: ManagementOptions;
  /** Where the request log goes when `request-log` is on. Default: `console.log`. */
  log?: (line: string) => void;
}

export interface Proxy {
  app: Express;
  management: ManagementRouter;
}

const LOOPBACK = /^(?:127\.|::1$|::ffff:127\.)/;

/** The client's key: `Authorization: Bearer <key>`, `X-Api-Key` or `X-Goog-Api-Key`. */
function clientKey(req: Request): string | undefined {
  const bearer = /^bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
  return (bearer?.[1] ?? req.get('x-api-key') ?? req.get('x-goog-api-key'))?.trim() || undefined;
}

/** Headers that belong to one connection (RFC 9110 section 7.6.1) or to our client, never forwarded. */
const DROP = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer',
  'content-length', 'authorization', 'x-api-key', 'x-goog-api-key']);

/** Build the proxy app over `configPath` and `authDir`. */
export function createProxy(configPath: string, authDir: string, options: ProxyOptions): Proxy {
  // The Go server's login providers, so the panel's OAuth page offers them (./oauth-providers.ts).
  const management = createManagementRouter(configPath, authDir, { oauth: { providers: upstreamProviders() }, ...options.management });
  const log = options.log ?? console.log;
  const app = express();

  app.use('/v0/management', management);

  // The proxy's own client authentication, from the live config.
  const authenticate = (req: Request, res: Response, next: NextFunction): void => {
    const config = management.getConfig();
    if (config['allow-localhost-unauthenticated'] === true && LOOPBACK.test(req.ip ?? '')) return next();
    const key = clientKey(req);
    const keys = config['api-keys'] ?? [];
    if (key !== undefined && keys.includes(key)) return next();
    res.status(401).json({ error: key === undefined ? 'missing api key' : 'invalid api key' });
  };

  app.use('/v1', authenticate, express.raw({ type: () => true, limit: '10mb' }), async (req: Request, res: Response) => {
    if (management.getConfig()['request-log'] === true) log(`${req.method} ${req.originalUrl}`);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (!DROP.has(name) && typeof value === 'string') headers.set(name, value);
    }
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && Buffer.isBuffer(req.body) && req.body.length > 0;
    try {
      const upstream = await fetch(new URL(req.originalUrl, options.upstream), {
        method: req.method,
        headers,
        body: hasBody ? (req.body as Buffer) : undefined,
      });
      res.status(upstream.status);
      const type = upstream.headers.get('content-type');
      if (type) res.type(type);
      res.send(Buffer.from(await upstream.arrayBuffer()));
    } catch {
      res.status(502).json({ error: 'upstream unreachable' });
    }
  });

  return { app, management };
}

if (require.main === module) {
  const upstream = process.env.UPSTREAM ?? 'http://127.0.0.1:8080';
  runExample('examples/proxy/index.ts', (configPath, authDir) => createProxy(configPath, authDir, { upstream }), (origin) => [
    `proxy: ${origin}/v1 -> ${upstream}`,
    `Management API: ${origin}/v0/management`,
  ]);
}
