/**
 * `npm run bench`: every benchmark, printed as ratios and Markdown tables
 * (`examples/bench/README.md` holds this output), ending with the four limits of issue 15 side by
 * side. One part only: `npm run bench -- reads` (or `writes`, `scale`, `store`, `soak`, `startup`, `history`,
 * `postgres` (with `DATABASE_URL`); `profile` only on request). `BENCH_ROUNDS`, `BENCH_SECONDS` and `BENCH_SIZES` (comma list)
 * shorten or lengthen a run.
 *
 * The servers run in child processes and the load generator (autocannon) in this one, so on a
 * two-core machine each gets a core. Nothing here is a test: there are no thresholds, only numbers.
 */
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { benchPostgres } from './postgres';
import { benchReads } from './reads';
import { benchHistory } from './history';
import { benchScale } from './scale';
import { benchSoak } from './soak';
import { benchStartup, type StartupResult } from './startup';
import { benchStore } from './store';
import { profileReads } from './profile';
import { fmt, median, mib, table } from './util';
import { benchWrites } from './writes';

const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const seconds = Number(process.env.BENCH_SECONDS ?? 2);
const sizes = (process.env.BENCH_SIZES ?? '10,100,1000,10000').split(',').map(Number);
const startupRuns = Number(process.env.BENCH_STARTUP_RUNS ?? 15);
const parts = new Set(process.argv.slice(2));
const want = (part: string): boolean => parts.size === 0 || parts.has(part);

function machine(): string {
  const cpu =
    /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ??
    os.cpus()[0]?.model ??
    'unknown';
  let nproc = String(os.availableParallelism());
  try {
    nproc = execSync('nproc').toString().trim();
  } catch {
    // os.availableParallelism() then
  }
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(', ');
  return `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; ${nproc} cores (nproc), ${cpu}; Node ${process.version}; load average at start ${load}`;
}

async function main(): Promise<void> {
  console.log(`# cli-proxy-management benchmarks\n\n${machine()}\n`);
  const limits: string[][] = [];

  if (want('reads')) {
    console.log(
      `## Reads (${rounds} alternating rounds of ${seconds} s, 32 connections, median)\n`,
    );
    const r = await benchReads({ rounds, seconds, connections: 32 });
    console.log(
      `\n${table(
        ['route', 'req/s (median)', 'ratio'],
        [
          ['bare Express `GET /bare/debug`', fmt(r.bare), '1.00x'],
          [
            'authenticated `GET /v0/management/debug`',
            fmt(r.management),
            `**${fmt(r.ratio, 2)}x**`,
          ],
        ],
      )}\n\nper-round ratios: ${r.rounds.map((x) => fmt(x.management / x.bare, 2)).join(', ')}\n`,
    );
    limits.push([
      'authenticated `GET /debug`, 32 connections',
      `bare Express route, same process: ${fmt(r.bare)} req/s`,
      '>= 0.9x',
      `**${fmt(r.ratio, 2)}x** (${fmt(r.management)} req/s; median of ${r.rounds.length} rounds)`,
    ]);
  }

  if (want('writes')) {
    console.log(`## Writes (${rounds} rounds of ${seconds} s, 32 connections, median)\n`);
    const w = await benchWrites({ rounds, seconds, connections: 32 });
    const row = (name: string, run: typeof w.debug, ratio: number) => [
      name,
      fmt(run.rps),
      `**${fmt(ratio, 2)}x**`,
      fmt(run.stats.mutations / Math.max(1, run.stats.commits), 1),
      String(run.stats.maxBatch),
      `${run.stats.written} of ${run.stats.commits}`,
    ];
    console.log(
      `\n${table(
        [
          'workload',
          'req/s (median)',
          'vs serial write+fsync+rename',
          'mutations per commit (mean)',
          'largest commit',
          'commits that wrote',
        ],
        [
          row('`PUT /debug` (true/false alternating)', w.debug, w.ratioDebug),
          row('`PUT /request-retry` (a new value each)', w.retry, w.ratioRetry),
          [
            `serial write+fsync+rename of ${fmt(w.fileBytes)} bytes`,
            fmt(w.serial),
            '1.00x',
            '1',
            '1',
            'all',
          ],
          [
            'same + folder fsync (what one commit does)',
            fmt(w.serialDirSync),
            `${fmt(w.serialDirSync / w.serial, 2)}x`,
            '1',
            '1',
            'all',
          ],
        ],
      )}\n`,
    );
    limits.push([
      'persisted `PUT /debug`, 32 connections',
      `serial write+fsync+rename loop: ${fmt(w.serial)}/s`,
      '>= 1.2x',
      `**${fmt(w.ratioDebug, 2)}x** (${fmt(w.debug.rps)} req/s)`,
    ]);
  }

  if (want('scale')) {
    console.log(`## Scale (n api-keys in the config, n files in the auth folder; demo host)\n`);
    const rows = await benchScale({
      sizes,
      mutations: 10_000,
      connections: 32,
      samples: (n) => (n >= 10_000 ? 100 : 300),
    });
    console.log(
      `\n${table(
        [
          'n',
          'config size',
          '`PATCH /api-keys` p50',
          'p99',
          'durable write p50 (the limit)',
          'PATCH / durable write',
          '`GET /auth-files` p50',
          'p99',
          'RSS idle',
          'RSS after 10,000 mutations',
          'heap after GC, idle -> after',
          'mutations/s (32 clients)',
          'mutations per commit',
        ],
        rows.map((r) => [
          fmt(r.n),
          `${fmt(r.fileBytes / 1024, 0)} KiB`,
          `${fmt(r.patch.p50, 1)} ms`,
          `${fmt(r.patch.p99, 1)} ms`,
          `${fmt(r.durable.p50, 2)} ms`,
          `${fmt(r.patch.p50 / r.durable.p50, 1)}x`,
          `${fmt(r.files.p50, 1)} ms`,
          `${fmt(r.files.p99, 1)} ms`,
          mib(r.rssIdle),
          mib(r.rssAfter),
          `${mib(r.heapIdle)} -> ${mib(r.heapAfter)}`,
          fmt(r.mutations.rps),
          fmt(r.mutations.perCommit, 1),
        ]),
      )}\n\nlatencies: serial requests on one keep-alive connection, ${rows.map((r) => `${r.patch.samples} samples at n=${fmt(r.n)}`).join(', ')}; ` +
        `PATCH and durable-write samples interleaved in four slices (p50: median of the slices' p50)\n`,
    );
    const big = rows.find((r) => r.n === 10_000);
    if (big) {
      limits.push([
        `\`PATCH /api-keys {index, value}\` at 10,000 keys (${fmt(big.fileBytes / 1024, 0)} KiB), p50`,
        `one durable write of that file (write, fsync, rename, folder fsync): ${fmt(big.durable.p50, 2)} ms`,
        '<= 25x (stretch 5x)',
        `**${fmt(big.patch.p50 / big.durable.p50, 1)}x** (${fmt(big.patch.p50, 1)} ms)`,
      ]);
    }
  }

  if (want('history')) {
    console.log(`## History on against history off (same host, same run, alternating rounds)\n`);
    const c = await benchHistory({
      rounds: Number(process.env.BENCH_ROUNDS ?? 6),
      seconds,
      connections: 32,
      samples: 120,
    });
    console.log(
      `${table(
        ['what', 'history off', 'history on', 'on / off', 'limit'],
        [
          [
            'persisted `PUT /debug`, 32 connections, req/s (median)',
            fmt(median(c.put.off)),
            fmt(median(c.put.on)),
            `**${fmt(c.put.ratio, 2)}x**`,
            '>= 0.90x',
          ],
          [
            `\`PATCH /api-keys\` at 10,000 keys (${fmt(c.patch.fileBytes / 1024, 0)} KiB), p50 ms (median of rounds)`,
            fmt(median(c.patch.off), 1),
            fmt(median(c.patch.on), 1),
            `**${fmt(c.patch.ratio, 2)}x**`,
            '<= 1.20x',
          ],
        ],
      )}\n\nper-round PUT ratios: ${c.put.on.map((v, i) => fmt(v / (c.put.off[i] as number), 2)).join(', ')}; per-round PATCH ratios: ${c.patch.on.map((v, i) => fmt(v / (c.patch.off[i] as number), 2)).join(', ')}\n`,
    );
    limits.push([
      'persisted `PUT /debug` with history on',
      'the same host with history off, same run',
      '>= 0.90x',
      `**${fmt(c.put.ratio, 2)}x**`,
    ]);
    limits.push([
      '`PATCH /api-keys` at 10,000 keys with history on, p50',
      'the same host with history off, same run',
      '<= 1.20x',
      `**${fmt(c.patch.ratio, 2)}x**`,
    ]);
  }

  if (want('store')) {
    console.log(`## The store alone (serial mutations in-process, no HTTP; median of 30)\n`);
    const out: [string, string][] = [];
    for (const n of sizes) out.push([fmt(n), `${fmt(await benchStore(n, 30), 1)} ms`]);
    console.log(
      `${table(['n api-keys', 'one mutation (apply, render, re-parse, check, write+fsync, adopt)'], out)}\n`,
    );
  }

  if (want('soak')) {
    console.log(`## Memory over 40,000 mutations (demo host, 10 api-keys, 32 clients)\n`);
    const rows = await benchSoak(4);
    console.log(
      `${table(
        ['mutations', 'RSS', 'heap after GC'],
        rows.map((r) => [fmt(r.mutations), mib(r.rss), mib(r.heap)]),
      )}\n`,
    );
  }

  // Needs a server: runs when DATABASE_URL is set (asked for by name without it, it says so).
  if ((parts.size === 0 && process.env.DATABASE_URL) || parts.has('postgres')) {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('npm run bench -- postgres needs DATABASE_URL');
    const count = Number(process.env.BENCH_PROPAGATION ?? 200);
    console.log(
      `## PostgreSQL engine (propagation: ${count} sequential changes, 3 replicas; writes: ${rounds} rounds of ${seconds} s, 32 clients split over 3 processes, median)\n`,
    );
    const p = await benchPostgres({ url, rounds, seconds, connections: 32, count });
    const ms = (x: number) => `${fmt(x, 2)} ms`;
    console.log(
      `\n${table(
        ['from the 200 on replica A to...', 'p50', 'p99', 'max'],
        [
          [
            `B's and C's \`onChange\` (\`getConfig()\`, GET) (${p.samples} samples)`,
            ms(p.notice.p50),
            ms(p.notice.p99),
            ms(p.notice.max),
          ],
          [
            `B's and C's mirror \`config.yaml\``,
            ms(p.mirror.p50),
            ms(p.mirror.p99),
            ms(p.mirror.max),
          ],
          [
            `(from the PUT sent: B's and C's \`onChange\`)`,
            ms(p.fromSend.p50),
            ms(p.fromSend.p99),
            ms(p.fromSend.max),
          ],
          [
            `(from the PUT sent: A's own 200, commit included)`,
            ms(p.roundTrip.p50),
            ms(p.roundTrip.p99),
            ms(p.roundTrip.max),
          ],
        ],
      )}\n`,
    );
    const file3 = p.throughput[1]?.rps ?? 1;
    console.log(
      `${table(
        [
          '`PUT /request-retry` (a new value each)',
          'req/s (median)',
          'vs file engine, 3 processes',
          'non-2xx',
        ],
        p.throughput.map((t) => [
          t.name,
          fmt(t.rps),
          `${fmt(t.rps / file3, 2)}x`,
          String(t.non2xx),
        ]),
      )}\n`,
    );
  }

  if (want('startup')) {
    console.log(
      `## Start-up a host pays (whole \`node -e\` processes, alternating, median of ${startupRuns})\n`,
    );
    const st: StartupResult = benchStartup(startupRuns);
    console.log(
      `${table(
        ['process', 'wall time (median)', 'CPU time, user+sys (median)'],
        [
          [
            '`require("express")`, an app with one route',
            `${fmt(st.expressAlone, 1)} ms`,
            `${fmt(st.expressAloneCpu, 1)} ms`,
          ],
          [
            'same + `require` of the library, `createManagementRouter`, `ready()`',
            `${fmt(st.withLibrary, 1)} ms`,
            `${fmt(st.withLibraryCpu, 1)} ms`,
          ],
          [
            '**added by the library**',
            `**+${fmt(st.added, 1)} ms**`,
            `**+${fmt(st.addedCpu, 1)} ms**`,
          ],
          [
            'of which the floor: `require("yaml")`, one parse of the same file, `toJS()`, `toString()` (a third process)',
            `+${fmt(st.yamlFloor, 1)} ms`,
            `+${fmt(st.yamlFloorCpu, 1)} ms`,
          ],
          [
            'the library beyond that floor',
            `+${fmt(st.added - st.yamlFloor, 1)} ms`,
            `+${fmt(st.addedCpu - st.yamlFloorCpu, 1)} ms`,
          ],
          [
            'for comparison: the library compiled file by file instead of bundled (a fourth process)',
            `+${fmt(st.fileByFile, 1)} ms`,
            `+${fmt(st.fileByFileCpu, 1)} ms`,
          ],
        ],
      )}\n`,
    );
    limits.push([
      'start-up a host pays (require, `createManagementRouter`, `ready()`)',
      `express alone: ${fmt(st.expressAlone, 1)} ms wall`,
      '<= +50 ms (stretch +25)',
      `**+${fmt(st.added, 1)} ms** wall, +${fmt(st.addedCpu, 1)} ms CPU (yaml alone: +${fmt(st.yamlFloor, 1)} ms)`,
    ]);
  }

  if (limits.length > 0) {
    console.log(`## Limits (issue 15): each row against its limit, measured in this run\n`);
    console.log(`${table(['what', 'limit measured in the same run', 'goal', 'now'], limits)}\n`);
  }

  if (parts.has('profile')) {
    console.log(`## CPU profile of the host under \`GET /debug\` load (self time)\n`);
    console.log(await profileReads(seconds * 2));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
