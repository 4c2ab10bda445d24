/**
 * History after a SIGKILL at the two instants that matter (a host stops there and waits to be
 * killed, see fixtures/history-crash-host.ts): the history read afterwards never shows a change
 * the config does not hold, and shows the one it does.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { FileJournal, textDigest } from '../lib/history/file-journal';
import { api, auth, fixtureWith, harness, KEY } from './helpers';

jest.setTimeout(120_000);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-history-crash-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Start the stopping host and SIGKILL it once it reports that it is in the window. */
async function killAt(
  configPath: string,
  instant: 'before-rename' | 'after-rename',
): Promise<string[]> {
  const child = fork(
    path.join(__dirname, 'fixtures', 'history-crash-host.ts'),
    [configPath, instant, KEY],
    { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const seen: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type: string }) => {
      seen.push(m.type);
      if (m.type === 'in-window') resolve();
    });
    void exited.then(() => reject(new Error('the host exited before the window')));
  });
  child.kill('SIGKILL');
  await exited;
  return seen;
}

/** The entries as any reader sees them after the crash (the journal against the config on disk). */
async function entriesAfter(configPath: string): Promise<string[]> {
  const text = readFileSync(configPath, 'utf8');
  const journal = new FileJournal(
    `${configPath}.history`,
    { maxEntries: 1000, maxBytes: 8 << 20 },
    { warn: () => undefined },
    () => textDigest(text),
  );
  return (await journal.list(500)).entries.map((e) => `${e.id} ${e.path ?? ''}`);
}

it('killed after the journal was written and before the config was renamed: no entry, the config unchanged; the next host goes on', async () => {
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, fixtureWith(), { mode: 0o600 });
  expect(await killAt(configPath, 'before-rename')).toEqual(['in-window']);
  expect(readFileSync(configPath, 'utf8')).toBe(fixtureWith());
  expect(readFileSync(`${configPath}.history`, 'utf8')).toContain('"path":"/debug"'); // written, not shown
  expect(await entriesAfter(configPath)).toEqual([]);
  // A new host writes on: its entry gets the next id and the crash's group stays hidden.
  const h = harness(readFileSync(configPath, 'utf8'));
  try {
    writeFileSync(`${h.configPath}.history`, readFileSync(`${configPath}.history`));
    expect(
      (await request(h.app).put(api('/request-retry')).set(auth).send({ value: 4 })).status,
    ).toBe(200);
    const { entries } = (await request(h.app).get(api('/config/history')).set(auth)).body;
    expect(entries.map((e: { id: string; path: string }) => `${e.id} ${e.path}`)).toEqual([
      '2 /request-retry',
    ]);
  } finally {
    await h.close();
  }
});

it('killed after the config was renamed and before the mark: the change is in the file and has its entry', async () => {
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, fixtureWith(), { mode: 0o600 });
  expect(await killAt(configPath, 'after-rename')).toEqual(['in-window']);
  expect(readFileSync(configPath, 'utf8')).toContain('debug: true');
  expect(readFileSync(`${configPath}.history`, 'utf8')).not.toContain('"ok"');
  expect(await entriesAfter(configPath)).toEqual(['1 /debug']);
});
