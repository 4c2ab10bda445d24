/**
 * Reads: authenticated `GET /v0/management/debug` against a bare Express route answering the
 * same JSON, in the same server process and the same run, 32 keep-alive connections. The server
 * is a child process; autocannon runs here. The two are measured in alternating rounds so that
 * noise from other work on the machine falls on both.
 */
import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURE, fmt, load, median, removeDir, startHost, tempDir } from './util';

export interface ReadsResult {
  bare: number;
  management: number;
  ratio: number;
  rounds: { bare: number; management: number }[];
}

export async function benchReads(opts: {
  rounds: number;
  seconds: number;
  connections: number;
  nodeArgs?: string[];
}): Promise<ReadsResult> {
  const dir = tempDir('reads');
  const key = randomBytes(18).toString('base64url');
  // The default cost (10): only the first request pays it, the verified-key cache serves the rest.
  writeFileSync(
    path.join(dir, 'config.yaml'),
    FIXTURE.replace('KEY_PLACEHOLDER', await bcrypt.hash(key, 10)),
    { mode: 0o600 },
  );
  const host = await startHost('plain', dir, opts.nodeArgs);
  const headers = { authorization: `Bearer ${key}` };
  const bareUrl = `${host.base}/bare/debug`;
  const mgmtUrl = `${host.base}/v0/management/debug`;
  try {
    const check = await fetch(mgmtUrl, { headers });
    if (check.status !== 200) throw new Error(`GET /debug answered ${check.status}`);
    // Warm-up: JIT, connection pools.
    await load({ url: bareUrl, connections: opts.connections, duration: 1 });
    await load({ url: mgmtUrl, connections: opts.connections, duration: 1, headers });
    const rounds: { bare: number; management: number }[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      const bare = await load({
        url: bareUrl,
        connections: opts.connections,
        duration: opts.seconds,
      });
      const mgmt = await load({
        url: mgmtUrl,
        connections: opts.connections,
        duration: opts.seconds,
        headers,
      });
      if (mgmt.non2xx > 0 || mgmt.errors > 0 || bare.non2xx > 0)
        throw new Error('reads: non-2xx responses or errors under load');
      rounds.push({ bare: bare.rps, management: mgmt.rps });
      console.log(
        `  reads round ${r + 1}: bare ${fmt(bare.rps)} req/s, GET /debug ${fmt(mgmt.rps)} req/s (${fmt(mgmt.rps / bare.rps, 2)}x)`,
      );
    }
    const bare = median(rounds.map((r) => r.bare));
    const management = median(rounds.map((r) => r.management));
    return { bare, management, ratio: median(rounds.map((r) => r.management / r.bare)), rounds };
  } finally {
    await host.stop();
    removeDir(dir);
  }
}
