/**
 * Helpers of the login tests: a real authorization server (`fixtures/oidc-server.mjs`, oidc-provider
 * in a child process on 127.0.0.1), a scripted browser (cookies, redirects followed by hand), and
 * a guard that records every socket this process opens to anything but loopback.
 */
import express from 'express';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createManagementRouter,
  type ManagementOptions,
  type ManagementRouter,
  type OAuthProvider,
} from '../lib';
import { fixtureWith, KEY } from './helpers';

export interface AuthServer {
  readonly issuer: string;
  /** Lines the server printed on stderr (`NON-LOOPBACK <host>` when it connected elsewhere). */
  readonly stderr: string[];
  stop(): Promise<void>;
}

/** Start the authorization server; resolves with its issuer once it listens. */
export function startAuthServer(): Promise<AuthServer> {
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(__dirname, 'fixtures', 'oidc-server.mjs')],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) =>
    stderr.push(
      ...chunk
        .toString()
        .split('\n')
        .filter((l) => l !== ''),
    ),
  );
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ issuer: (JSON.parse(line) as { issuer: string }).issuer, stderr, stop });
    });
    child.once('exit', (code) =>
      reject(new Error(`authorization server exited (${code}): ${stderr.join(' ')}`)),
    );
  });
}

/**
 * Record every TCP connection this process opens to a host that is not loopback (the global
 * `fetch` and `http` both go through `net.Socket.prototype.connect`).
 */
export function guardLoopback(): { readonly violations: string[]; restore(): void } {
  const violations: string[] = [];
  const original = net.Socket.prototype.connect;
  const patched = function (this: net.Socket, ...args: unknown[]): net.Socket {
    const first = args[0];
    const opts = (
      typeof first === 'object' && first !== null ? first : { port: first, host: args[1] }
    ) as { host?: unknown; path?: unknown };
    const host = typeof opts.host === 'string' ? opts.host : 'localhost';
    if (
      opts.path === undefined &&
      !['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1'].includes(host)
    )
      violations.push(host);
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  };
  net.Socket.prototype.connect = patched as typeof original;
  return { violations, restore: () => void (net.Socket.prototype.connect = original) };
}

/** A browser of one user: a cookie jar, redirects followed by hand. */
export class Browser {
  readonly #cookies = new Map<string, string>();

  #remember(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = (pair as string).indexOf('=');
      const name = (pair as string).slice(0, eq).trim();
      const value = (pair as string).slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  async #request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size > 0)
      headers.set('cookie', [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.#remember(res);
    return res;
  }

  /**
   * Open `url` and follow the server's redirects until one leaves `origin` (the redirect back to
   * the client, not followed) or a page answers: the address it ended at, and the last answer.
   */
  async follow(
    url: string,
    origin: string,
    init?: RequestInit,
  ): Promise<{ url: string; res: Response }> {
    let res = await this.#request(url, init);
    let at = url;
    for (let i = 0; i < 20; i++) {
      const location = res.headers.get('location');
      if (res.status < 300 || res.status > 399 || !location) return { url: at, res };
      at = new URL(location, at).href;
      if (new URL(at).origin !== origin) return { url: at, res };
      res = await this.#request(at);
    }
    throw new Error('too many redirects');
  }

  /** The device flow's pages: enter the code, then confirm (`approve`) or abort. The last page's text. */
  async device(verificationUrl: string, origin: string, approve: boolean): Promise<string> {
    const first = await this.follow(verificationUrl, origin);
    const input = await first.res.text();
    const form1 = new URLSearchParams({
      xsrf: field(input, 'xsrf'),
      user_code: field(input, 'user_code'),
    });
    const second = await this.follow(`${origin}/device`, origin, { method: 'POST', body: form1 });
    const confirm = await second.res.text();
    const form2 = new URLSearchParams({
      xsrf: field(confirm, 'xsrf'),
      user_code: field(confirm, 'user_code'),
    });
    form2.set(approve ? 'confirm' : 'abort', 'yes');
    const done = await this.follow(`${origin}/device`, origin, { method: 'POST', body: form2 });
    return done.res.text();
  }
}

/** The value of a form field in a page. */
function field(html: string, name: string): string {
  const m = new RegExp(
    `name="${name}"[^>]*?value="([^"]*)"|value="([^"]*)"[^>]*?name="${name}"`,
  ).exec(html);
  if (!m) throw new Error(`no field ${name} in the page`);
  return (m[1] ?? m[2]) as string;
}

export interface Host {
  readonly base: string;
  readonly dir: string;
  readonly authDir: string;
  readonly router: ManagementRouter;
  readonly logs: string[];
  call(
    method: string,
    p: string,
    options?: { body?: unknown; key?: boolean },
  ): Promise<{ status: number; body: Record<string, unknown>; text: string; headers: Headers }>;
  close(): Promise<void>;
}

/** A router with `oauth` (and `seen` collecting every answer and log line) on a real listening server on 127.0.0.1 (the redirect URI is derived from the request's host). */
export async function loginHost(
  providers: OAuthProvider[],
  options: ManagementOptions = {},
  seen: string[] = [],
): Promise<Host> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cpm-oauth-'));
  const configPath = path.join(dir, 'config.yaml');
  const authDir = path.join(dir, 'auths');
  writeFileSync(configPath, fixtureWith());
  const logs: string[] = [];
  const router = createManagementRouter(configPath, authDir, {
    bcryptRounds: 4,
    watch: false,
    logger: { warn: (m) => void logs.push(m) },
    ...options,
    oauth: { providers, ...options.oauth },
  });
  await router.ready();
  const app = express();
  app.use('/v0/management', router);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v0/management`;
  return {
    base,
    dir,
    authDir,
    router,
    logs,
    async call(method, p, { body, key = true } = {}) {
      const headers: Record<string, string> = key ? { Authorization: `Bearer ${KEY}` } : {};
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      const res = await fetch(`${base}${p}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      // A download is the token file itself: the one answer meant to hold the tokens.
      if (!p.startsWith('/auth-files/download')) seen.push(text);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = {};
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async close() {
      seen.push(...logs);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await router.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
