/**
 * The PostgreSQL engine (`npm run bench -- postgres`, needs `DATABASE_URL`):
 *
 * - **Propagation**: three replicas (routers in this process, each with its own mirror folder)
 *   on one namespace; `count` sequential `PUT /request-retry` through replica A; for each, the
 *   time from A's `200` to the moment each other replica's `onChange` saw the value, and to the
 *   moment its mirror file held it (and from the moment the PUT was sent, against the PUT's own
 *   round trip). In one process, so one clock: p50/p99 over every pair. A notice can arrive
 *   before A's response is read: those count as 0 ms after the 200.
 * - **Write throughput**: `PUT /request-retry` (a new value each) from `connections` clients
 *   split over three host processes: the PostgreSQL engine (3 replicas, one namespace) against
 *   the file engine (3 processes on one file, the cross-process lock) and one file-engine process.
 */
import bcrypt from 'bcrypt';
import express from 'express';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { createManagementRouter, type ManagementRouter } from '../../lib';
import { postgresStorage } from '../../lib/postgres';
import {
  FIXTURE,
  fmt,
  load,
  median,
  percentile,
  removeDir,
  startHost,
  tempDir,
  type Host,
  type Load,
} from './util';

export interface PostgresResult {
  readonly samples: number;
  readonly notice: { p50: number; p99: number; max: number };
  readonly mirror: { p50: number; p99: number; max: number };
  /** From the moment the PUT was sent to the other replicas' onChange. */
  readonly fromSend: { p50: number; p99: number; max: number };
  /** The PUT's own round trip on replica A (commit included), for scale. */
  readonly roundTrip: { p50: number; p99: number; max: number };
  readonly throughput: { name: string; rps: number; non2xx: number; rounds: number[] }[];
}

const stats = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? 0,
  };
};

async function dropNamespace(url: string, ns: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const table of ['cpm_config', 'cpm_token_files', 'cpm_lockout'])
      await client.query(`DELETE FROM ${table} WHERE namespace = $1`, [ns]);
  } finally {
    await client.end();
  }
}

async function propagation(url: string, count: number, configText: string, key: string) {
  const ns = `bench-propagation-${process.pid}-${randomBytes(3).toString('hex')}`;
  const dir = tempDir('pg-propagation');
  const replicas: { router: ManagementRouter; configPath: string }[] = [];
  const server: { close(): void }[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const own = path.join(dir, `r${i}`);
      mkdirSync(own);
      const configPath = path.join(own, 'config.yaml');
      if (i === 0) writeFileSync(configPath, configText, { mode: 0o600 });
      const router = createManagementRouter(configPath, path.join(own, 'auths'), {
        logger: { warn: () => undefined },
        storage: postgresStorage({ connectionString: url, namespace: ns }),
      });
      await router.ready();
      replicas.push({ router, configPath });
    }
    const app = express();
    app.use('/v0/management', replicas[0]!.router);
    const listening = app.listen(0, '127.0.0.1');
    server.push(listening);
    await new Promise((r) => listening.once('listening', r));
    const base = `http://127.0.0.1:${(listening.address() as AddressInfo).port}/v0/management`;
    const notice: number[] = [];
    const mirror: number[] = [];
    const fromSend: number[] = [];
    const roundTrip: number[] = [];
    for (let n = 0; n < count; n++) {
      const value = 1000 + n;
      const seen = replicas.slice(1).map(
        (r) =>
          new Promise<number>((resolve) => {
            const off = r.router.onChange((config) => {
              if (config['request-retry'] !== value) return;
              off();
              resolve(performance.now());
            });
          }),
      );
      const sent = performance.now();
      const res = await fetch(`${base}/request-retry`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: `{"value":${value}}`,
      });
      const acked = performance.now();
      if (res.status !== 200) throw new Error(`PUT answered ${res.status}`);
      for (const at of await Promise.all(seen)) {
        notice.push(Math.max(0, at - acked));
        fromSend.push(at - sent);
      }
      roundTrip.push(acked - sent);
      // The mirrors: polled every 0.2 ms from the acknowledgement.
      for (const r of replicas.slice(1)) {
        while (!readFileSync(r.configPath, 'utf8').includes(`request-retry: ${value}`))
          await new Promise((done) => setTimeout(done, 0.2));
        mirror.push(performance.now() - acked);
      }
    }
    return {
      samples: notice.length,
      notice: stats(notice),
      mirror: stats(mirror),
      fromSend: stats(fromSend),
      roundTrip: stats(roundTrip),
    };
  } finally {
    for (const s of server) s.close();
    await Promise.all(replicas.map((r) => r.router.close()));
    removeDir(dir);
    await dropNamespace(url, ns);
  }
}

async function throughput(
  mode: 'plain' | 'postgres',
  processes: number,
  configText: string,
  key: string,
  seconds: number,
  connections: number,
): Promise<Load[]> {
  const dir = tempDir(`pg-writes-${mode}`);
  const ns = `bench-writes-${process.pid}-${randomBytes(3).toString('hex')}`;
  process.env.CPM_BENCH_NAMESPACE = ns;
  const hosts: Host[] = [];
  try {
    writeFileSync(path.join(dir, 'config.yaml'), configText, { mode: 0o600 });
    for (let i = 0; i < processes; i++) {
      // postgres: each replica its own mirror folder (the first seeds); file engine: one shared file.
      let own = dir;
      if (mode === 'postgres' && i > 0) {
        own = path.join(dir, `r${i}`);
        mkdirSync(own);
      }
      hosts.push(await startHost(mode, own));
    }
    const share = Math.max(1, Math.floor(connections / processes));
    let counter = 0;
    const run = (h: Host, secs: number) =>
      load({
        url: `${h.base}/v0/management/request-retry`,
        connections: share,
        duration: secs,
        method: 'PUT',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        requests: [{ setupRequest: (req) => ({ ...req, body: `{"value":${counter++}}` }) }],
      });
    await Promise.all(hosts.map((h) => run(h, 2))); // warm-up (and the one bcrypt per host)
    return await Promise.all(hosts.map((h) => run(h, seconds)));
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
    removeDir(dir);
    if (mode === 'postgres' && process.env.CPM_BENCH_DATABASE_URL)
      await dropNamespace(process.env.CPM_BENCH_DATABASE_URL, ns);
  }
}

export async function benchPostgres(opts: {
  url: string;
  rounds: number;
  seconds: number;
  connections: number;
  count: number;
}): Promise<PostgresResult> {
  const key = randomBytes(18).toString('base64url');
  const configText = FIXTURE.replace('KEY_PLACEHOLDER', await bcrypt.hash(key, 10));
  process.env.CPM_BENCH_DATABASE_URL = opts.url;
  const p = await propagation(opts.url, opts.count, configText, key);
  console.log(
    `  postgres propagation: ${p.samples} samples, onChange p50 ${fmt(p.notice.p50, 2)} ms p99 ${fmt(p.notice.p99, 2)} ms, mirror p50 ${fmt(p.mirror.p50, 2)} ms p99 ${fmt(p.mirror.p99, 2)} ms`,
  );
  const setups = [
    { name: 'PostgreSQL engine, 3 replicas (one namespace)', mode: 'postgres', processes: 3 },
    { name: 'file engine, 3 processes on one file', mode: 'plain', processes: 3 },
    { name: 'file engine, 1 process', mode: 'plain', processes: 1 },
  ] as const;
  const throughputs = setups.map((s) => ({
    name: s.name,
    rps: 0,
    non2xx: 0,
    rounds: [] as number[],
  }));
  for (let r = 0; r < opts.rounds; r++) {
    for (const [i, s] of setups.entries()) {
      const loads = await throughput(
        s.mode,
        s.processes,
        configText,
        key,
        opts.seconds,
        opts.connections,
      );
      const rps = loads.reduce((sum, l) => sum + l.rps, 0);
      const t = throughputs[i]!;
      t.rounds.push(rps);
      t.non2xx += loads.reduce((sum, l) => sum + l.non2xx + l.errors, 0);
      console.log(`  postgres writes round ${r + 1}: ${s.name} ${fmt(rps)} req/s`);
    }
  }
  for (const t of throughputs) t.rps = median(t.rounds);
  return { ...p, throughput: throughputs };
}
