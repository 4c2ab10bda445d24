/**
 * A small but real OpenAI-compatible proxy that mounts the Management API with every runtime
 * hook, so the web panel shows live data: request counts (Dashboard, provider cards), the log
 * (Logs page, request-log downloads), the Quota page's `/api-call`, model lists, the version.
 *
 *   npm run proxy          # PORT, HOST, CONFIG, AUTH_DIR, LOG_DIR as in examples/proxy/README.md
 *
 * Clients call `POST /v1/chat/completions` (streamed or not) and `GET /v1/models` with one of
 * the config's `api-keys`; requests go to the `openai-compatibility` entry serving the model
 * (by name or alias) or to a `*-api-key` entry with a `base-url` listing it. Everything is read
 * from the live config on each request: a key or provider added in the panel works at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import {
  createManagementRouter,
  fileLogs,
  HookError,
  usageRecorder,
  type ManagementOptions,
  type ManagementRouter,
  type ProxyConfig,
  type UsageRecorder,
} from '../../lib'; // 'cli-proxy-management'
import { runExample } from '../demo/cli';
import { upstreamProviders } from './oauth-providers';
import { LogWriter } from './log-writer';
import { channelModels, KEY_LISTS, modelTable, type Target } from './routing';

/** The package's version: the proxy reports it in `X-CPA-VERSION` and as the latest release. */
const VERSION = (
  JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as {
    version: string;
  }
).version;

export interface ProxyOptions {
  /** Options of the Management API router (its `runtime` is the proxy's own). */
  readonly management?: ManagementOptions;
  /** Where the logs go when `logging-to-file` is on. Default: `logs/` next to the config. */
  readonly logDir?: string;
  /** How requests leave the proxy (upstream calls and `/api-call`). Default: the global `fetch`, direct. */
  readonly fetch?: typeof fetch;
}

export interface Proxy {
  app: Express;
  management: ManagementRouter;
  usage: UsageRecorder;
}

const LOOPBACK = /^(?:127\.|::1$|::ffff:127\.)/;

/** The client's key: `Authorization: Bearer <key>`, `X-Api-Key` or `X-Goog-Api-Key`. */
function clientKey(req: Request): string | undefined {
  const bearer = /^bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
  return (bearer?.[1] ?? req.get('x-api-key') ?? req.get('x-goog-api-key'))?.trim() || undefined;
}

/** The index `/api-call` resolves for a token file: stable while the file keeps its name and type. */
export function authIndexOf(name: string, type: string): string {
  return createHash('sha256').update(`${type}:${name}`).digest('hex').slice(0, 16);
}

const expandHome = (p: string): string =>
  p === '~' || p.startsWith('~/') ? path.join(homedir(), p.slice(1)) : p;

/** OpenAI's error shape. */
const openAiError = (
  res: Response,
  status: number,
  message: string,
  type = 'invalid_request_error',
): void => {
  res.status(status).json({ error: { message, type } });
};

/** Build the proxy over `configPath` and `authDir`. */
export function createProxy(
  configPath: string,
  authDir: string,
  options: ProxyOptions = {},
): Proxy {
  const send = options.fetch ?? fetch;
  const logs = new LogWriter(
    options.logDir ?? path.join(path.dirname(path.resolve(configPath)), 'logs'),
  );
  const usage = usageRecorder();
  const tokenDir = path.resolve(expandHome(authDir));
  let rr = 0; // round robin over the targets of a model

  /** The token files on disk: name, type, index, JSON. */
  const tokenFiles = (): { name: string; index: string; json: Record<string, unknown> }[] => {
    let names: string[];
    try {
      names = readdirSync(tokenDir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    return names.flatMap((name) => {
      try {
        const json = JSON.parse(readFileSync(path.join(tokenDir, name), 'utf8')) as Record<
          string,
          unknown
        >;
        return [
          {
            name,
            index: authIndexOf(name, typeof json.type === 'string' ? json.type : 'unknown'),
            json,
          },
        ];
      } catch {
        return [];
      }
    });
  };

  const management: ManagementRouter = createManagementRouter(configPath, authDir, {
    serverInfo: { version: VERSION },
    // The Go server's login providers, so the panel's OAuth page offers them (./oauth-providers.ts).
    oauth: { providers: upstreamProviders() },
    ...options.management,
    runtime: {
      ...fileLogs(logs.dir),
      apiKeyUsage: () => usage.apiKeyUsage(),
      authFileState: (name) => {
        const file = tokenFiles().find((f) => f.name === name);
        if (!file) return undefined;
        const counts = usage.countsOf(file.index);
        return { auth_index: file.index, ...(counts ?? {}) };
      },
      apiCallCredential: (index) => {
        const file = tokenFiles().find((f) => f.index === index);
        if (!file) return undefined;
        const token = file.json.access_token ?? file.json.api_key;
        const proxyUrl = file.json.proxy_url;
        return {
          ...(typeof token === 'string' ? { token } : {}),
          ...(typeof proxyUrl === 'string' && proxyUrl ? { proxyUrl } : {}),
        };
      },
      ...(options.fetch
        ? {
            apiCallFetch: (r) => {
              if (r.proxyUrl) throw new HookError(502, 'no transport for proxy');
              return send(r.url, {
                method: r.method,
                headers: r.headers,
                body: r.body,
                redirect: 'manual',
                signal: r.signal,
              });
            },
          }
        : {}),
      authFileModels: (name, ctx) => {
        const type = tokenFiles().find((f) => f.name === name)?.json.type;
        return typeof type === 'string' ? channelModels(ctx.config, type) : undefined;
      },
      modelDefinitions: (channel, ctx) => channelModels(ctx.config, channel) ?? undefined,
      latestVersion: () => `v${VERSION}`,
    },
  });
  const config = (): ProxyConfig => management.getConfig();
  const loggingToFile = (): boolean => config()['logging-to-file'] === true;

  const app = express();
  app.use('/v0/management', management);

  const authenticate = (req: Request, res: Response, next: NextFunction): void => {
    const c = config();
    if (c['allow-localhost-unauthenticated'] === true && LOOPBACK.test(req.ip ?? '')) return next();
    const key = clientKey(req);
    if (key !== undefined && (c['api-keys'] ?? []).includes(key)) return next();
    openAiError(
      res,
      401,
      key === undefined ? 'missing api key' : 'invalid api key',
      'authentication_error',
    );
  };

  app.get('/v1/models', authenticate, (_req, res) => {
    const ids = [...modelTable(config()).entries()].map(([id, targets]) => ({
      id,
      object: 'model',
      created: 0,
      owned_by: targets[0]?.provider ?? '',
    }));
    res.json({ object: 'list', data: ids });
  });

  app.post(
    '/v1/chat/completions',
    authenticate,
    express.json({ limit: '10mb' }),
    async (req: Request, res: Response) => {
      const id = randomBytes(4).toString('hex');
      const started = Date.now();
      const body = req.body as Record<string, unknown> | undefined;
      const model = typeof body?.model === 'string' ? body.model.trim() : '';
      const targets = modelTable(config()).get(model);
      const done = (status: number, target: Target | undefined, responseText: string): void => {
        const ok = status < 400;
        if (target)
          usage.record({
            provider: target.provider,
            key: `${target.baseUrl}|${target.apiKey}`,
            success: ok,
          });
        if (!loggingToFile()) return;
        logs.line(
          id,
          ok ? 'info' : 'warn',
          `${status} | ${Date.now() - started}ms | ${req.ip ?? '-'} | POST /v1/chat/completions | model=${model || '-'}${target ? ` -> ${target.provider}` : ''}`,
        );
        const requestLog = config()['request-log'] === true;
        if (requestLog || !ok) {
          const content = `=== REQUEST ${id} ===\nPOST /v1/chat/completions\nmodel: ${model}\n${target ? `upstream: ${target.provider} ${target.baseUrl}\n` : ''}\n${JSON.stringify(body, null, 2)}\n\n=== RESPONSE ${status} ===\n${responseText}\n`;
          logs.request(id, '/v1/chat/completions', content, !requestLog);
        }
      };
      if (!model) {
        openAiError(res, 400, 'model is required');
        return done(400, undefined, 'model is required');
      }
      if (!targets || targets.length === 0) {
        openAiError(res, 404, `model ${model} is not served here`);
        return done(404, undefined, 'unknown model');
      }
      const target = targets[rr++ % targets.length] as Target;
      const abort = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) abort.abort();
      });
      let upstream: globalThis.Response;
      try {
        upstream = await send(`${target.baseUrl.replace(/\/+$/, '')}/chat/completions`, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            Accept: body?.stream === true ? 'text/event-stream' : 'application/json',
            Authorization: `Bearer ${target.apiKey}`,
          },
          body: JSON.stringify({ ...body, model: target.model }),
          redirect: 'manual',
          signal: abort.signal,
        });
      } catch {
        openAiError(res, 502, 'upstream unreachable', 'api_error');
        return done(502, target, 'upstream unreachable');
      }
      res.status(upstream.status);
      res.setHeader('Content-Type', upstream.headers.get('content-type') ?? 'application/json');
      res.setHeader('X-Request-Id', id);
      const kept: Buffer[] = [];
      let keptBytes = 0;
      try {
        if (upstream.body) {
          res.flushHeaders();
          for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) {
            res.write(chunk);
            if (keptBytes < 1024 * 1024) {
              kept.push(Buffer.from(chunk));
              keptBytes += chunk.byteLength;
            }
          }
        }
        res.end();
        done(upstream.status, target, Buffer.concat(kept).toString('utf8'));
      } catch {
        res.destroy();
        done(502, target, 'upstream stream broke');
      }
    },
  );

  return { app, management, usage };
}

export { KEY_LISTS };

if (require.main === module) {
  runExample(
    'examples/proxy/index.ts',
    (configPath, authDir) =>
      createProxy(configPath, authDir, {
        ...(process.env.LOG_DIR ? { logDir: process.env.LOG_DIR } : {}),
      }),
    (origin) => [`proxy: ${origin}/v1/chat/completions`, `Management API: ${origin}/v0/management`],
  );
}
