/**
 * What history costs: the same host with history on and off, measured in the same run in
 * alternating rounds (each host in its own child process, its own folder).
 *
 * - persisted `PUT /debug` from 32 clients: req/s with history on / off (limit: >= 0.90);
 * - `PATCH /api-keys {index, value}` at 10,000 keys, serial on one keep-alive connection: p50
 *   with history on / off (limit: <= 1.20).
 */
import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { configWithKeys } from './scale';
import {
  FIXTURE,
  fmt,
  load,
  median,
  removeDir,
  serialLatency,
  startHost,
  tempDir,
  type Host,
} from './util';

export interface HistoryCost {
  put: { on: number[]; off: number[]; ratio: number };
  patch: { on: number[]; off: number[]; ratio: number; fileBytes: number };
}

async function pair(text: string): Promise<{ on: Host; off: Host; dirs: string[] }> {
  const dirs = [tempDir('history-on'), tempDir('history-off')];
  for (const dir of dirs) writeFileSync(path.join(dir, 'config.yaml'), text, { mode: 0o600 });
  const on = await startHost('plain', dirs[0] as string);
  const off = await startHost('plain-no-history', dirs[1] as string);
  return { on, off, dirs };
}

export async function benchHistory(opts: {
  rounds: number;
  seconds: number;
  connections: number;
  samples: number;
}): Promise<HistoryCost> {
  const key = randomBytes(18).toString('base64url');
  const hash = await bcrypt.hash(key, 10);
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

  const put = { on: [] as number[], off: [] as number[] };
  let hosts = await pair(FIXTURE.replace('KEY_PLACEHOLDER', hash));
  try {
    const run = async (host: Host, seconds: number): Promise<number> => {
      let i = 0;
      const r = await load({
        url: `${host.base}/v0/management/debug`,
        connections: opts.connections,
        duration: seconds,
        method: 'PUT',
        headers,
        requests: [{ setupRequest: (req) => ({ ...req, body: `{"value":${i++ % 2 === 0}}` }) }],
      });
      if (r.non2xx > 0 || r.errors > 0)
        throw new Error('PUT /debug: non-2xx responses or errors under load');
      return r.rps;
    };
    await run(hosts.on, 1);
    await run(hosts.off, 1);
    for (let r = 0; r < opts.rounds; r++) {
      // Alternating which goes first, so a trend in the machine's load falls on both sides.
      const order = r % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      for (const side of order) put[side].push(await run(hosts[side], opts.seconds));
      console.log(
        `  history round ${r + 1}: PUT /debug on ${fmt(put.on[r] as number)} req/s, off ${fmt(put.off[r] as number)} req/s`,
      );
    }
  } finally {
    await Promise.all([hosts.on.stop(), hosts.off.stop()]);
    hosts.dirs.forEach(removeDir);
  }

  const text = configWithKeys(10_000, hash);
  const patch = { on: [] as number[], off: [] as number[] };
  hosts = await pair(text);
  try {
    const samples = async (host: Host, count: number, slice: number): Promise<number> => {
      const r = await serialLatency(count, (i) =>
        fetch(`${host.base}/v0/management/api-keys`, {
          method: 'PATCH',
          headers,
          body: JSON.stringify({
            index: ((i + slice * count) * 7919) % 10_000,
            value: `sk-patched-${slice}-${i}`,
          }),
        }),
      );
      if (r.failures > 0) throw new Error('PATCH /api-keys: failures');
      return r.p50;
    };
    await samples(hosts.on, 5, 99);
    await samples(hosts.off, 5, 99);
    const per = Math.ceil(opts.samples / opts.rounds);
    for (let r = 0; r < opts.rounds; r++) {
      const order = r % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      for (const side of order) patch[side].push(await samples(hosts[side], per, r));
      console.log(
        `  history round ${r + 1}: PATCH /api-keys at 10,000 keys p50 on ${fmt(patch.on[r] as number, 1)} ms, off ${fmt(patch.off[r] as number, 1)} ms`,
      );
    }
  } finally {
    await Promise.all([hosts.on.stop(), hosts.off.stop()]);
    hosts.dirs.forEach(removeDir);
  }
  return {
    put: { ...put, ratio: median(put.on) / median(put.off) },
    patch: {
      ...patch,
      ratio: median(patch.on) / median(patch.off),
      fileBytes: Buffer.byteLength(text),
    },
  };
}
