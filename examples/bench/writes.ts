/**
 * Writes: persisted `PUT /v0/management/debug` from 32 concurrent clients against the serial
 * rate of the disk: write + fsync + rename of a file of the same size, one after another, in the
 * same folder and the same run. The store's group commit is observed through its diagnostics
 * channel (mutations per commit, how many commits wrote a file).
 */
import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';
import { promises as fs, constants, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURE, fmt, load, median, removeDir, startHost, tempDir } from './util';

export interface CommitStats {
  commits: number;
  written: number;
  mutations: number;
  failed: number;
  maxBatch: number;
}

export interface WriteRun {
  rps: number;
  stats: CommitStats;
}

export interface WritesResult {
  fileBytes: number;
  /** Serial write + fsync + rename per second (no folder fsync). */
  serial: number;
  /** Serial write + fsync + rename + folder fsync per second (what the store does per commit). */
  serialDirSync: number;
  debug: WriteRun;
  retry: WriteRun;
  ratioDebug: number;
  ratioRetry: number;
}

/** Serial atomic replacements of `file` with `data` for `seconds`: ops per second. */
export async function serialRate(
  file: string,
  data: string,
  seconds: number,
  dirSync: boolean,
): Promise<number> {
  const tmp = `${file}.serial.tmp`;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  let n = 0;
  while (performance.now() < end) {
    const handle = await fs.open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC,
      0o600,
    );
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    await fs.rename(tmp, file);
    if (dirSync) {
      const dir = await fs.open(path.dirname(file), constants.O_RDONLY);
      await dir.sync();
      await dir.close();
    }
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

async function writeLoad(
  base: string,
  key: string,
  url: string,
  bodies: (i: number) => string,
  seconds: number,
  connections: number,
) {
  let counter = 0;
  return load({
    url: base + url,
    connections,
    duration: seconds,
    method: 'PUT',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    requests: [{ setupRequest: (req) => ({ ...req, body: bodies(counter++) }) }],
  });
}

export async function benchWrites(opts: {
  rounds: number;
  seconds: number;
  connections: number;
}): Promise<WritesResult> {
  const dir = tempDir('writes');
  const key = randomBytes(18).toString('base64url');
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, FIXTURE.replace('KEY_PLACEHOLDER', await bcrypt.hash(key, 10)), {
    mode: 0o600,
  });
  const fileBytes = statSync(configPath).size;
  const host = await startHost('plain', dir);
  const sample = path.join(dir, 'serial.yaml');
  const data = FIXTURE.slice(0, fileBytes).padEnd(fileBytes, '#');
  const serial: number[] = [];
  const serialDir: number[] = [];
  const debug: WriteRun[] = [];
  const retry: WriteRun[] = [];
  try {
    // Warm-up (and the one bcrypt of the key).
    await writeLoad(
      host.base,
      key,
      '/v0/management/debug',
      (i) => `{"value":${i % 2 === 0}}`,
      1,
      opts.connections,
    );
    for (let r = 0; r < opts.rounds; r++) {
      serial.push(await serialRate(sample, data, opts.seconds, false));
      serialDir.push(await serialRate(sample, data, opts.seconds, true));
      for (const [name, runs, url, body] of [
        ['PUT /debug', debug, '/v0/management/debug', (i: number) => `{"value":${i % 2 === 0}}`],
        [
          'PUT /request-retry',
          retry,
          '/v0/management/request-retry',
          (i: number) => `{"value":${i}}`,
        ],
      ] as const) {
        await host.ask('reset');
        const result = await writeLoad(host.base, key, url, body, opts.seconds, opts.connections);
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(`${name}: non-2xx responses or errors under load`);
        const stats = await host.ask<CommitStats>('stats');
        runs.push({ rps: result.rps, stats });
        console.log(
          `  writes round ${r + 1}: ${name} ${fmt(result.rps)} req/s, ${fmt(stats.mutations / Math.max(1, stats.commits), 1)} mutations/commit, ${stats.written}/${stats.commits} commits wrote`,
        );
      }
      console.log(
        `  writes round ${r + 1}: serial write+fsync+rename ${fmt(serial[r] as number)}/s (+ folder fsync ${fmt(serialDir[r] as number)}/s)`,
      );
    }
  } finally {
    await host.stop();
    removeDir(dir);
  }
  const mid = (runs: WriteRun[]): WriteRun => {
    const m = median(runs.map((x) => x.rps));
    return runs.reduce((a, b) => (Math.abs(b.rps - m) < Math.abs(a.rps - m) ? b : a));
  };
  const s = median(serial);
  return {
    fileBytes,
    serial: s,
    serialDirSync: median(serialDir),
    debug: mid(debug),
    retry: mid(retry),
    ratioDebug: median(debug.map((x) => x.rps)) / s,
    ratioRetry: median(retry.map((x) => x.rps)) / s,
  };
}
