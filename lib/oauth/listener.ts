// The opt-in loopback callback listener: a provider whose registered redirect URI is on the
// user's own machine (`http://localhost:1455/auth/callback`) gets a small HTTP server on that
// port, on 127.0.0.1 and ::1 only, while a login started with `is_webui` waits for it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../types';

interface Port {
  readonly servers: http.Server[];
  readonly path: string;
  /** States waiting for this port, with the timer that releases each at its deadline. */
  readonly states: Map<string, NodeJS.Timeout>;
}

/** Answer of a callback: text for the browser tab. */
type Take = (query: URLSearchParams) => Promise<void>;

/** Close a server and every connection it holds. */
function shut(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The listeners of one router, by port. */
export class CallbackListeners {
  readonly #ports = new Map<number, Port>();
  /** Ports being opened: a second start waits for the first. */
  readonly #opening = new Map<number, Promise<Port>>();

  constructor(
    private readonly logger: Logger,
    private readonly take: Take,
  ) {}

  #serve(path: string) {
    return (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const text = (status: number, body: string): void => {
        res.writeHead(status, {
          'Content-Type': 'text/plain; charset=utf-8',
          'Cache-Control': 'no-store',
          'X-Content-Type-Options': 'nosniff',
        });
        res.end(`${body}\n`);
      };
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if ((req.method !== 'GET' && req.method !== 'HEAD') || url.pathname !== path)
        return text(404, 'not found');
      this.take(url.searchParams).then(
        () => text(200, 'Login received. You can close this window and return to the panel.'),
        (err: unknown) => {
          const e = err as { status?: unknown; message?: unknown };
          text(
            typeof e.status === 'number' ? e.status : 500,
            typeof e.status === 'number' && typeof e.message === 'string'
              ? e.message
              : 'login failed',
          );
        },
      );
    };
  }

  async #open(port: number, path: string): Promise<Port> {
    const servers: http.Server[] = [];
    for (const host of ['127.0.0.1', '::1']) {
      const server = http.createServer(this.#serve(path));
      try {
        await listen(server, port, host);
        servers.push(server);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        // No IPv6 loopback on this machine: 127.0.0.1 alone.
        if (host === '::1' && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT')) continue;
        await Promise.all(servers.map(shut));
        this.logger.warn(
          `cli-proxy-management: oauth callback listener on port ${port} failed (${typeof code === 'string' ? code : 'error'})`,
        );
        throw err;
      }
    }
    return { servers, path, states: new Map() };
  }

  /** Have the listener of `port` open for `state` until it is released or `deadline` passes. */
  async need(port: number, path: string, state: string, deadline: number): Promise<void> {
    let entry = this.#ports.get(port);
    if (!entry) {
      let opening = this.#opening.get(port);
      if (!opening) {
        opening = this.#open(port, path);
        this.#opening.set(port, opening);
        const forget = (): void => void this.#opening.delete(port);
        opening.then(forget, forget);
      }
      entry = await opening;
      this.#ports.set(port, entry);
    }
    const timer = setTimeout(() => this.release(state), Math.max(0, deadline - Date.now()));
    timer.unref();
    entry.states.set(state, timer);
  }

  /** `state` no longer waits: a port no pending login needs is closed. */
  release(state: string): void {
    for (const [port, entry] of this.#ports) {
      const timer = entry.states.get(state);
      if (!timer) continue;
      clearTimeout(timer);
      entry.states.delete(state);
      if (entry.states.size === 0) {
        this.#ports.delete(port);
        // After this turn: the answer of the request that released it is written first.
        setImmediate(() => void Promise.all(entry.servers.map(shut)));
      }
    }
  }

  /** The ports open now (for tests). */
  get ports(): number[] {
    return [...this.#ports.values()].flatMap((e) =>
      e.servers.map((s) => (s.address() as AddressInfo).port),
    );
  }

  /** Close every listener. */
  async close(): Promise<void> {
    const entries = [...this.#ports.values()];
    this.#ports.clear();
    for (const e of entries) for (const t of e.states.values()) clearTimeout(t);
    await Promise.all(entries.flatMap((e) => e.servers.map(shut)));
  }
}
