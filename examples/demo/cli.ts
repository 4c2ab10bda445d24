/**
 * What the examples share when run from the command line: where their config comes from and
 * how they listen. Not part of the library.
 *
 * - Config: `CONFIG` (and `AUTH_DIR`, default `~/.cli-proxy-api`) when set; otherwise the demo's
 *   `demo-data/config.yaml` (`DEMO_DATA` names another folder), created from the commented
 *   sample with a random management key, printed once, on first use.
 * - Address: the config's `port` (as the CLI Proxy API reads it), `PORT` to override it, else
 *   8317; `HOST` (default `127.0.0.1`). The demo's own config records a `PORT` given (not `0`,
 *   "any free port"), so its `port:` says where it listens. A port in use is an error that names
 *   `PORT=` and makes the process exit with status 1.
 * - Lifetime: SIGINT or SIGTERM, or the end of the parent process (`kill <pid of npm start>`:
 *   npm's shell goes, and the example must not live on without it), closes the server and
 *   the router.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import type { Express } from 'express';
import type { ManagementRouter } from '../../lib';

/** The demo's data folder: `DEMO_DATA`, else `demo-data/` at the top of the repository. */
export const demoDataDir = (): string =>
  path.resolve(process.env.DEMO_DATA || path.join(__dirname, '../../demo-data'));

export interface ExampleConfig {
  configPath: string;
  authDir: string;
  /** The plaintext key when this call created the config, else undefined (only its hash is stored). */
  createdKey: string | undefined;
}

/** The top-level `port:` line of a config text. */
const PORT_LINE = /^port:[ \t]*(\d+)[ \t]*$/m;

/** The config file's top-level `port`, if it has one. */
export function configPort(configPath: string): number | undefined {
  try {
    const m = PORT_LINE.exec(readFileSync(configPath, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** `PORT` when it names one port (not `0`, any free port). */
const givenPort = (): number | undefined => {
  const port = Number(process.env.PORT);
  return process.env.PORT && Number.isInteger(port) && port > 0 ? port : undefined;
};

/**
 * `dataDir/config.yaml`, created from the commented sample with a random key when missing. A
 * `PORT` given is written to its `port:` line (only that line changes), so the file says where
 * the demo listens.
 */
export function demoConfig(dataDir = demoDataDir()): ExampleConfig {
  const configPath = path.join(dataDir, 'config.yaml');
  let createdKey: string | undefined;
  const port = givenPort();
  if (!existsSync(configPath)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    createdKey = randomBytes(18).toString('base64url');
    const sample = readFileSync(path.join(__dirname, 'config.sample.yaml'), 'utf8');
    writeFileSync(
      configPath,
      sample.replace('MANAGEMENT_KEY', createdKey).replace(PORT_LINE, `port: ${port ?? 8317}`),
      { mode: 0o600 },
    );
  } else if (
    port !== undefined &&
    configPort(configPath) !== undefined &&
    configPort(configPath) !== port
  ) {
    writeFileSync(configPath, readFileSync(configPath, 'utf8').replace(PORT_LINE, `port: ${port}`));
  }
  return { configPath, authDir: path.join(dataDir, 'auths'), createdKey };
}

/** `CONFIG`/`AUTH_DIR` when `CONFIG` is set, else the demo's config. */
export function exampleConfig(): ExampleConfig {
  const config = process.env.CONFIG;
  if (!config) return demoConfig();
  return {
    configPath: path.resolve(config),
    authDir: process.env.AUTH_DIR || '~/.cli-proxy-api',
    createdKey: undefined,
  };
}

/** `http://host:port` of a listening server (IPv6 hosts in brackets). */
export function origin(server: Server, host: string): string {
  const { port } = server.address() as { port: number };
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Listen on `host:port`. Rejects when that fails (after closing the server), with a message that
 * says what to do: for a port in use, run `command` again with another `PORT=`.
 */
export function listen(app: Express, port: number, host: string, command: string): Promise<Server> {
  const server = app.listen(port, host);
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      server.close();
      const hint =
        err.code === 'EADDRINUSE'
          ? `port ${port} on ${host} is already in use; start on another one, e.g. PORT=${port + 1} ${command}`
          : `cannot listen on ${host}:${port} (${err.code ?? err.message}); choose another address with HOST= and PORT=`;
      reject(new Error(hint, { cause: err }));
    });
    server.once('listening', () => resolve(server));
  });
}

/**
 * Run an example (`script`, its path from the repository's top) from the command line: build it over {@link exampleConfig}, listen on
 * `PORT`/`HOST`, print `lines(origin, key)`; on SIGINT/SIGTERM stop. When it cannot listen,
 * print why on stderr and exit with status 1.
 */
export function runExample(
  script: string,
  build: (configPath: string, authDir: string) => { app: Express; management: ManagementRouter },
  lines: (origin: string, key: string, config: ExampleConfig) => string[],
  defaultPort = 8317,
): void {
  const config = exampleConfig();
  const { app, management } = build(config.configPath, config.authDir);
  serve(
    app,
    management,
    { defaultPort, configPath: config.configPath, command: `npx tsx ${script}`, name: script },
    (base) => {
      const key = config.createdKey ?? '<your key>';
      const out = lines(base, key, config);
      if (config.createdKey)
        out.push(
          '',
          `management key (shown once; the file keeps only its bcrypt hash):`,
          `  ${config.createdKey}`,
        );
      else out.push('', `config: ${config.configPath}`);
      return out.join('\n');
    },
  );
}

/**
 * Listen on `PORT` (else the config's `port`, else `defaultPort`) and `HOST` (default
 * 127.0.0.1), print `describe(origin)`, and on SIGINT/SIGTERM or when the parent process ends,
 * close the server and the router. When it cannot listen, print `<name>: <why>` on stderr,
 * close the router and set exit status 1.
 */
export function serve(
  app: Express,
  management: { close(): Promise<void> },
  opts: {
    readonly defaultPort: number;
    readonly configPath?: string;
    readonly command: string;
    readonly name: string;
  },
  describe: (origin: string) => string,
): void {
  const port = process.env.PORT
    ? Number(process.env.PORT)
    : (opts.configPath && configPort(opts.configPath)) || opts.defaultPort;
  const host = process.env.HOST ?? '127.0.0.1';
  listen(app, port, host, opts.command).then(
    (server) => {
      const parent = process.ppid;
      const stop = (): void => {
        clearInterval(orphanCheck);
        server.close();
        server.closeAllConnections();
        void management.close();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      // Started by `npm start`, the parent is npm's shell; killing npm ends that shell, not this
      // process, which is then handed to another parent: stop with it.
      const orphanCheck = setInterval(() => {
        if (process.ppid === parent) return;
        console.log(`${opts.name}: the parent process ended; stopping`);
        stop();
      }, 500);
      orphanCheck.unref();
      // Printed once the handlers are in place: whoever reads it may send a signal at once.
      console.log(describe(origin(server, host)));
    },
    (err: Error) => {
      void management.close();
      console.error(`${opts.name}: ${err.message}`);
      process.exitCode = 1;
    },
  );
}
