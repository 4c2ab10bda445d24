/**
 * Scale: for n api-keys in the config and n files in the auth folder, the latency of
 * `PATCH /api-keys {"index": i, "value": ...}` and of `GET /auth-files` (serial requests, one
 * keep-alive connection: p50 and p99), and the memory (RSS) of the demo host (`examples/demo`)
 * idle and after 10,000 mutations sent by 32 concurrent clients.
 */
import bcrypt from 'bcrypt';
import { createHash, randomBytes } from 'node:crypto';
import {
  promises as fs,
  constants,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import {
  FIXTURE,
  fmt,
  load,
  percentile,
  removeDir,
  serialLatency,
  startHost,
  tempDir,
} from './util';

/**
 * Serial durable replacements of a file of `data` in `dir`, as the store makes one: temp file,
 * write, fsync, rename, folder fsync. Returns p50 and p99 in ms.
 */
export async function durableWrites(
  dir: string,
  data: string,
  count: number,
): Promise<{ p50: number; p99: number }> {
  const file = path.join(dir, 'durable.yaml');
  const tmp = `${file}.tmp`;
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const handle = await fs.open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC,
      0o600,
    );
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    await fs.rename(tmp, file);
    const folder = await fs.open(dir, constants.O_RDONLY);
    await folder.sync();
    await folder.close();
    times.push(performance.now() - start);
  }
  await fs.rm(file, { force: true });
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}
import type { CommitStats } from './writes';

export interface ScaleRow {
  n: number;
  fileBytes: number;
  /** The limit: one durable write of a file of this size (write, fsync, rename, folder fsync), serial p50 in ms. */
  durable: { p50: number; p99: number };
  patch: { p50: number; p99: number; samples: number };
  files: { p50: number; p99: number; samples: number };
  rssIdle: number;
  rssAfter: number;
  /** Live heap after a full GC, idle and after the mutations. */
  heapIdle: number;
  heapAfter: number;
  mutations: { count: number; rps: number; perCommit: number };
}

/** The fixture with its two api-keys replaced by `n` keys (every tenth with a comment, as people write them). */
export function configWithKeys(n: number, hash: string): string {
  const keys: string[] = [];
  // About 40 bytes a key, as real keys are (`sk-` and 32 or more characters): 10,000 keys make about 400 KiB.
  for (let i = 0; i < n; i++)
    keys.push(
      `- "sk-bench-${String(i).padStart(6, '0')}-${createHash('sha256').update(String(i)).digest('hex').slice(0, 20)}"${i % 10 === 0 ? `   # client ${i}` : ''}`,
    );
  const text = FIXTURE.replace('KEY_PLACEHOLDER', hash).replace(
    /^api-keys:\n(?:- .*\n)+/m,
    `api-keys:\n${keys.join('\n')}\n`,
  );
  if (!text.includes('sk-bench-000000'))
    throw new Error('fixture layout changed: api-keys not found');
  return text;
}

export async function benchScale(opts: {
  sizes: readonly number[];
  mutations: number;
  connections: number;
  samples: (n: number) => number;
}): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  const key = randomBytes(18).toString('base64url');
  const hash = await bcrypt.hash(key, 10);
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  for (const n of opts.sizes) {
    const dir = tempDir(`scale-${n}`);
    const configPath = path.join(dir, 'config.yaml');
    writeFileSync(configPath, configWithKeys(n, hash), { mode: 0o600 });
    const fileBytes = statSync(configPath).size; // before the load below rewrites the keys shorter
    mkdirSync(path.join(dir, 'auths'), { mode: 0o700 });
    for (let i = 0; i < n; i++) {
      writeFileSync(
        path.join(dir, 'auths', `account-${String(i).padStart(6, '0')}@example.com.json`),
        `{"type":"gemini","email":"account-${i}@example.com","token":{"access_token":"${randomBytes(24).toString('hex')}"}}`,
      );
    }
    const host = await startHost('demo', dir, ['--expose-gc']);
    try {
      await new Promise((r) => setTimeout(r, 500));
      const idle = await host.ask<{ rss: number; heapAfterGc: number }>('rss');
      const samples = opts.samples(n);
      const api = `${host.base}/v0/management`;
      // The first request pays bcrypt once; then warm the JIT a little.
      for (let i = 0; i < 5; i++)
        await (await fetch(`${api}/auth-files`, { headers })).arrayBuffer();
      // The limit, in the same folder and the same minute: durable writes of a file of this size,
      // interleaved with the PATCH samples in four slices so both see the same load.
      const patchTimes: { p50: number; p99: number; failures: number }[] = [];
      const durableTimes: { p50: number; p99: number }[] = [];
      for (let slice = 0; slice < 4; slice++) {
        durableTimes.push(
          await durableWrites(dir, readFileSync(configPath, 'utf8'), Math.ceil(samples / 4)),
        );
        patchTimes.push(
          await serialLatency(Math.ceil(samples / 4), (i) =>
            fetch(`${api}/api-keys`, {
              method: 'PATCH',
              headers,
              body: JSON.stringify({
                index: ((i + slice * samples) * 7919) % n,
                value: `sk-patched-${slice}-${i}`,
              }),
            }),
          ),
        );
      }
      const mid = (xs: number[]): number =>
        xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
      const patch = {
        p50: mid(patchTimes.map((x) => x.p50)),
        p99: Math.max(...patchTimes.map((x) => x.p99)),
        failures: patchTimes.reduce((a, x) => a + x.failures, 0),
      };
      const durable = {
        p50: mid(durableTimes.map((x) => x.p50)),
        p99: Math.max(...durableTimes.map((x) => x.p99)),
      };
      const files = await serialLatency(samples, () => fetch(`${api}/auth-files`, { headers }));
      if (patch.failures || files.failures) throw new Error(`scale n=${n}: failed requests`);
      await host.ask('reset');
      let counter = 0;
      const result = await load({
        url: `${api}/api-keys`,
        connections: opts.connections,
        amount: opts.mutations,
        method: 'PATCH',
        headers,
        requests: [
          {
            setupRequest: (req: autocannon.Request) => ({
              ...req,
              body: JSON.stringify({ index: counter % n, value: `sk-load-${counter++}` }),
            }),
          },
        ],
      });
      if (result.non2xx > 0 || result.errors > 0)
        throw new Error(
          `scale n=${n}: non-2xx responses or errors under load: ${JSON.stringify(result.codes)}, ${result.errors} errors`,
        );
      const stats = await host.ask<CommitStats>('stats');
      const after = await host.ask<{ rss: number; heapAfterGc: number }>('rss');
      rows.push({
        n,
        fileBytes,
        durable,
        patch: { p50: patch.p50, p99: patch.p99, samples },
        files: { p50: files.p50, p99: files.p99, samples },
        rssIdle: idle.rss,
        rssAfter: after.rss,
        heapIdle: idle.heapAfterGc,
        heapAfter: after.heapAfterGc,
        mutations: {
          count: stats.mutations,
          rps: result.rps,
          perCommit: stats.mutations / Math.max(1, stats.commits),
        },
      });
      console.log(
        `  scale n=${fmt(n)}: PATCH p50 ${fmt(patch.p50, 2)} ms p99 ${fmt(patch.p99, 2)} ms (durable write p50 ${fmt(durable.p50, 2)} ms: ${fmt(patch.p50 / durable.p50, 1)}x); GET /auth-files p50 ${fmt(files.p50, 2)} ms p99 ${fmt(files.p99, 2)} ms; ` +
          `RSS ${fmt(idle.rss / 2 ** 20, 1)} -> ${fmt(after.rss / 2 ** 20, 1)} MiB (heap after GC ${fmt(idle.heapAfterGc / 2 ** 20, 1)} -> ${fmt(after.heapAfterGc / 2 ** 20, 1)} MiB) after ${fmt(stats.mutations)} mutations (${fmt(result.rps)}/s, ${fmt(stats.mutations / Math.max(1, stats.commits), 1)}/commit)`,
      );
    } finally {
      await host.stop();
      removeDir(dir);
    }
  }
  return rows;
}
