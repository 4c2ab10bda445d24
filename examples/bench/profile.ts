/**
 * `npm run bench -- profile`: CPU profile of the host under authenticated `GET /debug` load
 * (`--cpu-prof` in the child), summarised as the functions with the most self time. The raw
 * `.cpuprofile` is kept in the printed folder for Chrome DevTools.
 */
import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURE, fmt, load, removeDir, startHost, table, tempDir } from './util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export async function profileReads(seconds: number, url = '/v0/management/debug'): Promise<string> {
  const dir = tempDir('profile');
  const profDir = tempDir('cpuprofile');
  const key = randomBytes(18).toString('base64url');
  writeFileSync(
    path.join(dir, 'config.yaml'),
    FIXTURE.replace('KEY_PLACEHOLDER', await bcrypt.hash(key, 10)),
    { mode: 0o600 },
  );
  const host = await startHost('plain', dir, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
  const result = await load({
    url: host.base + url,
    connections: 32,
    duration: seconds,
    headers: { authorization: `Bearer ${key}` },
  });
  await host.stop();
  removeDir(dir);
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const profile = JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as {
    nodes: ProfileNode[];
  };
  const self = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    total += hits;
    const { functionName, url: src, lineNumber } = node.callFrame;
    const where = src
      ? `${src.replace(/^.*node_modules\//, '').replace(/^.*\/wt-[^/]+\//, '')}:${lineNumber + 1}`
      : '';
    const name = `${functionName || '(anonymous)'} ${where}`.trim();
    self.set(name, (self.get(name) ?? 0) + hits);
  }
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  console.log(
    `profiled ${url}: ${fmt(result.rps)} req/s, ${result.total} requests; profile in ${profDir}`,
  );
  return table(
    ['self %', 'function'],
    top.map(([name, hits]) => [fmt((100 * hits) / total, 1), name.replace(/\|/g, '\\|')]),
  );
}
