/**
 * The store alone, in this process, without HTTP: serial mutations of one api-key on a config
 * with n api-keys (each one applied, rendered, checked, written with fsync and adopted before
 * the next starts). Separates the cost of a commit from the cost of the HTTP layer.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { isSeq } from 'yaml';
import { ConfigCore } from '../../lib/config/store';
import { FileConfigBackend } from '../../lib/engines/file/config-file';
import { removeDir, tempDir } from './util';
import { configWithKeys } from './scale';

const HASH = `$2b$10$${'a'.repeat(53)}`;

/** Median milliseconds per serial mutation with n api-keys. */
export async function benchStore(n: number, count: number): Promise<number> {
  const dir = tempDir(`store-${n}`);
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, configWithKeys(n, HASH), { mode: 0o600 });
  const logger = { warn: () => undefined };
  const store = new ConfigCore(new FileConfigBackend(file, { watch: false, logger }), {
    logger,
    bcryptRounds: 10,
    source: file,
  });
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      await store.mutate((doc) => {
        const seq = doc.get('api-keys', true);
        if (isSeq(seq)) seq.set((i * 7919) % n, `sk-store-${i}`);
      });
      times.push(performance.now() - start);
    }
  } finally {
    await store.close();
    removeDir(dir);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 1000);
  const count = Number(process.argv[3] ?? 50);
  void benchStore(n, count).then((ms) =>
    console.log(
      `store alone, n=${n}: ${ms.toFixed(2)} ms per serial mutation (median of ${count})`,
    ),
  );
}
