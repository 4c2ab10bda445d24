import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { eventually, fixtureWith, KEY } from './helpers';
import { killAll, startWorker, stopWorker, type Worker } from './workers';
import { FileJournal, textDigest } from '../lib/history/file-journal';
import type { WorkerMessage } from './fixtures/worker-host';

/**
 * Crash safety: a host under a write load (LANES sequential PUT loops, each on its own key with
 * increasing values) is SIGKILLed at a random instant, KILLS times. After each kill the file must
 * parse and hold every write the host acknowledged with a 200: for each lane, the value on disk
 * is the last acknowledged one, or one that was in flight (durable, not yet acknowledged).
 * The next host must clean the crash's temp files and take over its lock.
 *
 * History, after each kill: the newest entry of each lane shows the value on disk (no entry for
 * a change the file does not hold) and the last acknowledged value has its entry.
 */
// Ten kill-and-restart rounds of a forked host: on a busy 2-core machine this takes far longer
// than jest's 30 s default (the standards: slow files set their own timeout).
jest.setTimeout(900_000);

const KILLS = 10;
const LANES = 4;
const RUN = 1_000_000; // run r writes values r*RUN + 1, r*RUN + 2, ... so values grow across runs

/** Deterministic "random" instants (mulberry32, fixed seed). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let dir: string;
let current: Worker | undefined;
/** Set when the test is over (passed, failed or timed out): its loop starts no further host. */
let ended = false;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-crash-'));
});
afterAll(async () => {
  ended = true;
  await killAll(); // every host, also one still starting, before its folder goes
  rmSync(dir, { recursive: true, force: true });
});

it(`${KILLS} SIGKILLs under a write load: the file always parses and holds every acknowledged write`, async () => {
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, fixtureWith(), { mode: 0o600 });
  const random = rng(20251126);
  const lastAck = new Map<number, number>(); // lane -> last acknowledged value (any run)
  const failures: WorkerMessage[] = [];
  const stats = { acks: 0, tempFilesLeft: 0, lockDirsLeft: 0, entries: 0 };
  let leftovers: string[] = [];

  const entries = () =>
    readdirSync(dir)
      .filter((n) => n !== 'auths')
      .sort();
  /** The history as a new process would read it: per lane, the newest value an entry shows and every value shown. */
  const historyByLane = async () => {
    const text = readFileSync(configPath, 'utf8');
    const journal = new FileJournal(
      path.join(dir, 'config.yaml.history'),
      { maxEntries: 1000, maxBytes: 8 * 1024 * 1024 },
      { warn: () => undefined },
      () => textDigest(text),
    );
    const newest = new Map<number, number>();
    const all = new Map<number, Set<number>>();
    let count = 0;
    let before: string | undefined;
    for (;;) {
      const page = await journal.list(500, before);
      for (const e of page.entries) {
        count++;
        for (const line of ((await journal.get(e.id))?.hunks ?? '').split('\n')) {
          const m = /^\+\s+k(\d+): (\d+)$/.exec(line);
          if (!m) continue;
          const [lane, value] = [Number(m[1]), Number(m[2])];
          if (!newest.has(lane)) newest.set(lane, value);
          if (!all.has(lane)) all.set(lane, new Set());
          all.get(lane)?.add(value);
        }
      }
      if (page.next === null) break;
      before = page.next;
    }
    return { newest, all, count };
  };
  const extraOnDisk = (): Record<string, number> => {
    const doc = parseDocument(readFileSync(configPath, 'utf8'));
    expect(doc.errors).toEqual([]);
    return (doc.toJS() as { extra?: Record<string, number> }).extra ?? {};
  };

  for (let run = 1; run <= KILLS + 1 && !ended; run++) {
    const base = run * RUN;
    let acksThisRun = 0;
    current = await startWorker(
      {
        configPath,
        authDir: path.join(dir, 'auths'),
        rows: LANES,
        lockStaleMs: 2000,
        key: KEY,
        load: { lanes: LANES, base },
      },
      (m) => {
        if (m.type === 'ack') {
          // Acks of one lane arrive in order: a lane has one request in flight at a time.
          lastAck.set(m.lane, m.value);
          acksThisRun++;
          stats.acks++;
        } else if (m.type === 'fail' || m.type === 'warn') failures.push(m);
      },
    );
    // The new host has written (so it took over any stale lock); the crash's temp files are gone.
    await eventually(() => acksThisRun > 0, 15_000);
    await eventually(() => leftovers.every((n) => !readdirSync(dir).includes(n)), 3000);

    if (run === KILLS + 1) {
      // Last run: a clean stop leaves only the config.
      expect(await stopWorker(current)).toBe(0);
      current = undefined;
      expect(entries()).toEqual(['config.yaml', 'config.yaml.history']);
      break;
    }

    await new Promise((r) => setTimeout(r, Math.floor(random() * 300)));
    current.child.kill('SIGKILL');
    expect(await current.exited).toBe('SIGKILL');
    current = undefined;

    const extra = extraOnDisk();
    for (let lane = 0; lane < LANES; lane++) {
      const acked = lastAck.get(lane);
      const onDisk = extra[`k${lane}`];
      // Durable but never acknowledged: the write in flight after the last ack, or the first
      // write of a later run that was killed before its 200.
      const allowed = new Set<number | undefined>([acked]);
      if (acked !== undefined) allowed.add(acked + 1);
      for (let r = 1; r <= run; r++)
        if (acked === undefined || r * RUN > acked) allowed.add(r * RUN + 1);
      if (!allowed.has(onDisk)) expect({ lane, onDisk }).toEqual({ lane, onDisk: acked });
    }
    const history = await historyByLane();
    for (let lane = 0; lane < LANES; lane++) {
      expect({ lane, newest: history.newest.get(lane) }).toEqual({
        lane,
        newest: extra[`k${lane}`],
      });
      const acked = lastAck.get(lane);
      if (acked !== undefined)
        expect({ lane, acked, recorded: history.all.get(lane)?.has(acked) }).toEqual({
          lane,
          acked,
          recorded: true,
        });
    }
    stats.entries = history.count;
    leftovers = entries().filter((n) => n.endsWith('.tmp'));
    stats.tempFilesLeft += leftovers.length;
    if (entries().includes('config.yaml.lock')) {
      stats.lockDirsLeft++;
      expect(statSync(path.join(dir, 'config.yaml.lock')).isDirectory()).toBe(true);
    }
  }

  expect(failures).toEqual([]);
  expect(stats.acks).toBeGreaterThan(KILLS);
  if (process.env.CPM_REPORT) {
    console.log(
      `crash: ${KILLS} kills, ${stats.acks} acknowledged writes checked, ${stats.tempFilesLeft} temp files and ${stats.lockDirsLeft} lock folders left by kills, all cleaned; ${stats.entries} history entries at the last kill`,
    );
  }
});
