/**
 * Memory over a long run: the demo host (10 api-keys) takes rounds of 10,000 `PATCH /api-keys`
 * from 32 clients; after each round, its RSS and its live heap after a full GC. A leak shows as
 * a heap that keeps growing round after round; a plateau after the first round is warm-up
 * (compiled code, inline caches, allocator pools).
 */
import bcrypt from 'bcrypt';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configWithKeys } from './scale';
import { load, removeDir, startHost, tempDir } from './util';

export async function benchSoak(
  rounds: number,
  perRound = 10_000,
): Promise<{ mutations: number; rss: number; heap: number }[]> {
  const dir = tempDir('soak');
  writeFileSync(
    path.join(dir, 'config.yaml'),
    configWithKeys(10, await bcrypt.hash('soak-key', 10)),
    { mode: 0o600 },
  );
  mkdirSync(path.join(dir, 'auths'), { mode: 0o700 });
  const host = await startHost('demo', dir, ['--expose-gc']);
  const out: { mutations: number; rss: number; heap: number }[] = [];
  let counter = 0;
  try {
    for (let round = 0; ; round++) {
      const m = await host.ask<{ rss: number; heapAfterGc: number }>('rss');
      out.push({ mutations: round * perRound, rss: m.rss, heap: m.heapAfterGc });
      if (round === rounds) break;
      const result = await load({
        url: `${host.base}/v0/management/api-keys`,
        connections: 32,
        amount: perRound,
        method: 'PATCH',
        headers: { authorization: 'Bearer soak-key' },
        requests: [
          {
            setupRequest: (r) => ({
              ...r,
              body: JSON.stringify({ index: counter % 10, value: `sk-soak-${counter++}` }),
            }),
          },
        ],
      });
      if (result.non2xx > 0 || result.errors > 0)
        throw new Error(`soak: failed requests ${JSON.stringify(result.codes)}`);
    }
  } finally {
    await host.stop();
    removeDir(dir);
  }
  return out;
}
