/**
 * Several processes, one database (contract section 11): three forked hosts with the PostgreSQL
 * engine on one namespace, each with its own mirror folder. They start together (one seed wins),
 * take 30 concurrent PUTs each over real HTTP (none lost) and hear each other's changes (GET,
 * getConfig, onChange, mirror file).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { eventually, fixtureWith, KEY } from './helpers';
import { databaseUrl, dropNamespace, sql, stopDatabase, uniqueNamespace } from './pg';
import { startWorker, stopWorker, type Worker } from './workers';
import type { WorkerMessage } from './fixtures/worker-host';

jest.setTimeout(120_000);

const WORKERS = 3;
const PER_WORKER = 30;
const TOTAL = WORKERS * PER_WORKER;

let dir: string;
let workers: Worker[] = [];
const namespace = uniqueNamespace('multi');
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-pg-multi-'));
});
afterAll(async () => {
  await Promise.all(workers.map(stopWorker));
  rmSync(dir, { recursive: true, force: true });
  await dropNamespace(namespace);
  await stopDatabase();
});

const url = (w: Worker, p: string) => `http://127.0.0.1:${w.port}/v0/management${p}`;
const headers = { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' };

it(`${WORKERS} processes start together, seed once, take ${TOTAL} concurrent mutations with none lost, and hear each other`, async () => {
  const connectionString = await databaseUrl();
  const messages: WorkerMessage[][] = Array.from({ length: WORKERS }, () => []);
  const mirrors = Array.from({ length: WORKERS }, (_, i) => {
    const own = path.join(dir, `w${i}`);
    mkdirSync(path.join(own, 'auths'), { recursive: true });
    writeFileSync(
      path.join(own, 'config.yaml'),
      fixtureWith().replace('request-retry: 3', `request-retry: ${10 + i}`),
      { mode: 0o600 },
    );
    writeFileSync(path.join(own, 'auths', `w${i}.json`), `{"w":${i}}`);
    return own;
  });
  workers = await Promise.all(
    mirrors.map((own, i) =>
      startWorker(
        {
          configPath: path.join(own, 'config.yaml'),
          authDir: path.join(own, 'auths'),
          rows: TOTAL,
          postgres: { connectionString, namespace },
        },
        (m) => messages[i]!.push(m),
      ),
    ),
  );
  expect(new Set(workers.map((w) => w.pid)).size).toBe(WORKERS);

  // Bootstrap: one seed won, version 1, its file only; every process mirrors it.
  const row = async () =>
    (
      await sql<{ text: string; version: string }>(
        'SELECT text, version FROM cpm_config WHERE namespace = $1',
        [namespace],
      )
    )[0]!;
  const seeded = await row();
  expect(seeded.version).toBe('1');
  const winner = [0, 1, 2].find((i) => seeded.text.includes(`request-retry: ${10 + i}`));
  expect(winner).toBeDefined();
  const files = await sql<{ name: string }>(
    'SELECT name FROM cpm_token_files WHERE namespace = $1',
    [namespace],
  );
  expect(files.map((f) => f.name)).toEqual([`w${winner}.json`]);
  for (const own of mirrors) {
    expect(readFileSync(path.join(own, 'config.yaml'), 'utf8')).toBe(seeded.text);
    expect(readdirSync(path.join(own, 'auths'))).toEqual([`w${winner}.json`]);
  }

  // 90 mutations in flight at once, 30 through each process.
  const results = await Promise.all(
    Array.from({ length: TOTAL }, async (_, i) => {
      const w = workers[Math.floor(i / PER_WORKER)] as Worker;
      const res = await fetch(url(w, `/extra/k${i}`), {
        method: 'PUT',
        headers,
        body: JSON.stringify({ value: 1000 + i }),
      });
      return { status: res.status, body: await res.text() };
    }),
  );
  expect(results.filter((r) => r.status !== 200)).toEqual([]);
  const extra = (parse((await row()).text) as { extra: Record<string, number> }).extra;
  expect(Object.keys(extra)).toHaveLength(TOTAL);
  for (let i = 0; i < TOTAL; i++) expect(extra[`k${i}`]).toBe(1000 + i);
  for (const w of workers) {
    await eventually(async () => {
      const got = await Promise.all(
        Array.from(
          { length: TOTAL },
          async (_, i) =>
            (
              (await (await fetch(url(w, `/extra/k${i}`), { headers })).json()) as Record<
                string,
                number
              >
            )[`k${i}`],
        ),
      );
      return got.every((v, i) => v === 1000 + i);
    }, 10_000);
  }

  // Propagation from process 0 to the others: GET, getConfig inside onChange, the mirror file.
  const res = await fetch(url(workers[0]!, '/proxy-url'), {
    method: 'PUT',
    headers,
    body: JSON.stringify({ value: 'socks5://multi:1080' }),
  });
  expect(res.status).toBe(200);
  for (const i of [1, 2]) {
    await eventually(
      () =>
        messages[i]!.some(
          (m) =>
            m.type === 'change' &&
            m.proxyUrl === 'socks5://multi:1080' &&
            m.getConfig === 'socks5://multi:1080' &&
            m.source === 'replica',
        ),
      5000,
    );
    await eventually(() =>
      readFileSync(path.join(mirrors[i]!, 'config.yaml'), 'utf8').includes(
        'proxy-url: "socks5://multi:1080"',
      ),
    );
    const got = (await (await fetch(url(workers[i]!, '/proxy-url'), { headers })).json()) as Record<
      string,
      string
    >;
    expect(got).toEqual({ 'proxy-url': 'socks5://multi:1080' });
  }
  // The only warnings: the two losers replaced their local auth file by the namespace's.
  const warnings = messages.flat().flatMap((m) => (m.type === 'warn' ? [m.message] : []));
  expect(warnings).toEqual(
    Array(WORKERS - 1).fill(
      'cli-proxy-management: removed 1 local auth file(s) that the database does not hold',
    ),
  );

  for (const w of workers) expect(await stopWorker(w)).toBe(0);
  workers = [];
});
