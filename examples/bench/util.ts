/** Shared pieces of the benchmarks: the host child process, load generation, statistics, tables. */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
/** The large commented config of the test suite: realistic layout, comments, unknown keys. */
export const FIXTURE = readFileSync(
  path.join(ROOT, '__tests__/fixtures/config.example.yaml'),
  'utf8',
);

export const tempDir = (prefix: string): string =>
  mkdtempSync(path.join(tmpdir(), `cpm-bench-${prefix}-`));
export const removeDir = (dir: string): void => rmSync(dir, { recursive: true, force: true });

export interface Host {
  readonly port: number;
  readonly base: string;
  ask<T>(cmd: 'rss' | 'stats' | 'reset'): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Start `host.ts` in a child process (its own core: the load generator runs in this one) over
 * `dir`, and wait until it listens. `nodeArgs` go to the child's Node (e.g. `--cpu-prof`).
 */
export function startHost(
  mode: 'plain' | 'plain-no-history' | 'demo' | 'postgres',
  dir: string,
  nodeArgs: string[] = [],
): Promise<Host> {
  const child: ChildProcess = fork(path.join(__dirname, 'host.ts'), [mode, dir], {
    execArgv: ['--import', 'tsx', ...nodeArgs],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let next = 0;
  const waiting = new Map<number, (data: unknown) => void>();
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench host exited early (${code})`)));
    child.on('message', (raw) => {
      const msg = raw as { port?: number; id?: number; data?: unknown };
      if (msg.port !== undefined) {
        const port = msg.port;
        resolve({
          port,
          base: `http://127.0.0.1:${port}`,
          ask: <T>(cmd: 'rss' | 'stats' | 'reset') =>
            new Promise<T>((done) => {
              const id = ++next;
              waiting.set(id, done as (data: unknown) => void);
              child.send({ id, cmd });
            }),
          stop: () =>
            new Promise<void>((done) => {
              child.removeAllListeners('exit');
              const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
              child.once('exit', () => {
                clearTimeout(timer);
                done();
              });
              child.send({ id: ++next, cmd: 'exit' });
            }),
        });
      } else if (msg.id !== undefined) {
        waiting.get(msg.id)?.(msg.data);
        waiting.delete(msg.id);
      }
    });
  });
}

export interface Load {
  /** Completed 2xx responses per second. */
  readonly rps: number;
  readonly total: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly p50: number;
  readonly p99: number;
  /** Responses per status code. */
  readonly codes: Readonly<Record<string, number>>;
}

/** Run autocannon (keep-alive connections, in this process) and reduce its result. */
export async function load(opts: autocannon.Options): Promise<Load> {
  const result = await autocannon({ ...opts, excludeErrorStats: false });
  const seconds = result.duration || 1;
  return {
    rps: (result['2xx'] ?? 0) / seconds,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    p50: result.latency.p50,
    p99: result.latency.p99,
    codes: Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, v]) => [
        code,
        (v as { count: number }).count,
      ]),
    ),
  };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** Serial latencies (ms) of `count` requests made one after another on one keep-alive connection. */
export async function serialLatency(
  count: number,
  request: (i: number) => Promise<Response>,
): Promise<{ p50: number; p99: number; failures: number }> {
  const times: number[] = [];
  let failures = 0;
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const res = await request(i);
    await res.arrayBuffer();
    times.push(performance.now() - start);
    if (!res.ok) failures++;
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), failures };
}

/** A Markdown table (the README takes it as printed). */
export function table(
  head: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  const line = (cells: readonly (string | number)[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const mib = (bytes: number): string => `${fmt(bytes / 1024 / 1024, 1)} MiB`;
