import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { eventually, fixtureWith, KEY } from './helpers';
import { killAll, startWorker, stopWorker, type Worker } from './workers';

/**
 * Several processes, one config file: three forked hosts, each with its own router on the same
 * config.yaml, take 30 concurrent PUTs each over real HTTP. None may lose another's write.
 */
// Three forked tsx hosts start, write and stop: on a busy 2-core machine far longer than jest's
// 30 s default (the standards: slow files set their own timeout).
jest.setTimeout(300_000);

const WORKERS = 3;
const PER_WORKER = 30;
const TOTAL = WORKERS * PER_WORKER;

let dir: string;
let workers: Worker[] = [];
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-multi-'));
});
// Several hosts started through tsx: slow on a busy 2-core machine.
jest.setTimeout(180_000);
afterAll(async () => {
  await Promise.all(workers.map(stopWorker));
  await killAll(); // also hosts still starting when the test ended
  rmSync(dir, { recursive: true, force: true });
});

const url = (w: Worker, p: string) => `http://127.0.0.1:${w.port}/v0/management${p}`;
const headers = { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' };

it(`${WORKERS} processes × ${PER_WORKER} concurrent mutations: all ${TOTAL} on disk and visible from every process`, async () => {
  const configPath = path.join(dir, 'config.yaml');
  const original = fixtureWith();
  writeFileSync(configPath, original, { mode: 0o600 });
  const warnings: string[] = [];
  workers = await Promise.all(
    Array.from({ length: WORKERS }, () =>
      startWorker({ configPath, authDir: path.join(dir, 'auths'), rows: TOTAL }, (m) => {
        if (m.type === 'warn') warnings.push(m.message);
      }),
    ),
  );
  expect(new Set(workers.map((w) => w.pid)).size).toBe(WORKERS);

  // Every mutation in flight at once: 30 per worker, 90 in all, each to its own key.
  const value = (i: number) => 1000 + i;
  const results = await Promise.all(
    Array.from({ length: TOTAL }, async (_, i) => {
      const w = workers[Math.floor(i / PER_WORKER)] as Worker;
      const res = await fetch(url(w, `/extra/k${i}`), {
        method: 'PUT',
        headers,
        body: JSON.stringify({ value: value(i) }),
      });
      return { status: res.status, body: (await res.json()) as unknown };
    }),
  );
  const acked = Date.now();
  expect(results.filter((r) => r.status !== 200)).toEqual([]);
  expect(results.every((r) => JSON.stringify(r.body) === '{"status":"ok"}')).toBe(true);

  // On disk: all 90, in one valid file that still starts with the user's untouched lines.
  const text = readFileSync(configPath, 'utf8');
  const doc = parseDocument(text);
  expect(doc.errors).toEqual([]);
  const extra = (doc.toJS() as { extra: Record<string, number> }).extra;
  expect(Object.keys(extra)).toHaveLength(TOTAL);
  for (let i = 0; i < TOTAL; i++) expect(extra[`k${i}`]).toBe(value(i));
  expect(text.startsWith(original.slice(0, original.indexOf('debug:')))).toBe(true);

  // From every process, through GET: each one serves all 90 (its watcher picked up the others' writes).
  let polls = 0;
  const seenBy = await Promise.all(
    workers.map(async (w) => {
      await eventually(async () => {
        polls++;
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
        return got.every((v, i) => v === value(i));
      }, 5000);
      return Date.now() - acked;
    }),
  );
  if (process.env.CPM_REPORT)
    console.log(
      `multiprocess: all ${TOTAL} visible in every worker ${Math.max(...seenBy)} ms after the last ack (${polls} polls of ${TOTAL} GETs)`,
    );

  // Nothing left behind but the history journal: no lock folder, no temp file; and nothing worth a warning happened.
  await Promise.all(workers.map(stopWorker));
  expect(
    readdirSync(dir)
      .filter((n) => n !== 'auths')
      .sort(),
  ).toEqual(['config.yaml', 'config.yaml.history']);
  expect(warnings).toEqual([]);
});
