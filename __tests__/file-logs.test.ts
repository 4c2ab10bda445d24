// fileLogs(dir) over the Go server's log folder, through the router; usageRecorder()'s counts.
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { fileLogs, usageRecorder } from '../lib';
import { lineTime } from '../lib/runtime/file-logs';
import { api, auth, fixtureWith, harness, type Harness } from './helpers';

let h: Harness;
let dir: string;
afterEach(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const stamp = (sec: number): string => {
  const d = new Date(sec * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `[${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}]`;
};
const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z

function make(): void {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-logs-'));
  h = harness(`${fixtureWith()}\nlogging-to-file: true\n`, { runtime: { ...fileLogs(dir) } });
}

const logs = (q = '') =>
  request(h.app)
    .get(api(`/logs${q}`))
    .set(auth);

describe('fileLogs', () => {
  beforeEach(() => make());

  it('reads lines stamped upstream style, the last `limit`, with `after`; unstamped lines follow their stamped line', async () => {
    writeFileSync(path.join(dir, 'main.log.1'), `${stamp(T0)} [info ] old\n`);
    writeFileSync(
      path.join(dir, 'main.log'),
      `${stamp(T0 + 10)} [info ] a\n  continued\n${stamp(T0 + 20)} [warn ] b\npartial-no-newline`,
    );
    const all = (await logs()).body;
    expect(all.lines).toEqual([
      `${stamp(T0)} [info ] old`,
      `${stamp(T0 + 10)} [info ] a`,
      '  continued',
      `${stamp(T0 + 20)} [warn ] b`,
    ]);
    expect(all['latest-timestamp']).toBe(T0 + 20);
    expect(all['next-cursor']).not.toBe('');
    expect((await logs('?limit=1')).body.lines).toEqual([`${stamp(T0 + 20)} [warn ] b`]);
    expect((await logs(`?after=${T0 + 5}`)).body.lines).toEqual([
      `${stamp(T0 + 10)} [info ] a`,
      '  continued',
      `${stamp(T0 + 20)} [warn ] b`,
    ]);
    expect(lineTime(`${stamp(T0)} x`)).toBe(T0);
  });

  it('a cursor answers only what was appended, across a rotation; an unknown cursor resets', async () => {
    writeFileSync(path.join(dir, 'main.log'), `${stamp(T0)} one\n`);
    const first = (await logs()).body;
    expect((await logs(`?cursor=${first['next-cursor']}`)).body.lines).toEqual([]);
    appendFileSync(path.join(dir, 'main.log'), `${stamp(T0 + 1)} two\n`);
    const second = (await logs(`?cursor=${first['next-cursor']}`)).body;
    expect(second.lines).toEqual([`${stamp(T0 + 1)} two`]);
    expect(second['cursor-reset']).toBeUndefined();
    // Rotation: main.log becomes main.log.1 with one more line, a new main.log starts.
    appendFileSync(path.join(dir, 'main.log'), `${stamp(T0 + 2)} three\n`);
    renameSync(path.join(dir, 'main.log'), path.join(dir, 'main.log.1'));
    writeFileSync(path.join(dir, 'main.log'), `${stamp(T0 + 3)} four\n`);
    const third = (await logs(`?cursor=${second['next-cursor']}`)).body;
    expect(third.lines).toEqual([`${stamp(T0 + 2)} three`, `${stamp(T0 + 3)} four`]);
    const reset = (await logs('?cursor=bm90LW91cnM')).body;
    expect(reset['cursor-reset']).toBe(true);
    expect(reset.lines).toHaveLength(4);
  });

  it('clearLogs empties main.log and removes its rotations only', async () => {
    writeFileSync(path.join(dir, 'main.log'), 'x\n');
    writeFileSync(path.join(dir, 'main.log.1'), 'y\n');
    writeFileSync(path.join(dir, 'main-2026-01-01T00-00-00.log'), 'z\n');
    writeFileSync(path.join(dir, 'error-a.log'), 'e\n');
    expect((await request(h.app).delete(api('/logs')).set(auth)).body).toEqual({
      success: true,
      message: 'Logs cleared successfully',
      removed: 2,
    });
    expect(readdirSync(dir).sort()).toEqual(['error-a.log', 'main.log']);
    expect((await logs()).body.lines).toEqual([]);
  });

  it('error logs listed and downloaded; a request log found by its id', async () => {
    writeFileSync(
      path.join(dir, 'error-v1-chat-2026-01-01T000000-ab12cd34.log'),
      'failed request\n',
    );
    writeFileSync(
      path.join(dir, 'v1-chat-completions-2026-01-01T000001-deadbeef.log'),
      'request log\n',
    );
    const list = (await request(h.app).get(api('/request-error-logs')).set(auth)).body;
    expect(list.files.map((f: { name: string }) => f.name)).toEqual([
      'error-v1-chat-2026-01-01T000000-ab12cd34.log',
    ]);
    const err = await request(h.app)
      .get(api('/request-error-logs/error-v1-chat-2026-01-01T000000-ab12cd34.log'))
      .set(auth);
    expect(err.text).toBe('failed request\n');
    const byId = await request(h.app).get(api('/request-log-by-id/deadbeef')).set(auth);
    expect(byId.text).toBe('request log\n');
    expect(byId.headers['content-disposition']).toBe(
      'attachment; filename="v1-chat-completions-2026-01-01T000001-deadbeef.log"',
    );
    expect((await request(h.app).get(api('/request-log-by-id/00000000')).set(auth)).status).toBe(
      404,
    );
  });
});

describe('usageRecorder', () => {
  it('counts per provider and key and per auth index, 20 ten-minute buckets oldest first', () => {
    let now = Date.UTC(2026, 0, 1, 10, 25);
    const usage = usageRecorder({ now: () => now });
    usage.record({ provider: 'Claude', key: ' https://a|k ', success: true, authIndex: 'i1' });
    usage.record({ provider: 'claude', key: 'https://a|k', success: false });
    now += 10 * 60_000;
    usage.record({ provider: 'claude', key: 'https://a|k', success: true });
    const entry = usage.apiKeyUsage().claude?.['https://a|k'];
    expect(entry?.success).toBe(2);
    expect(entry?.failed).toBe(1);
    expect(entry?.recent_requests).toHaveLength(20);
    expect(entry?.recent_requests.slice(-2).map((b) => [b.success, b.failed])).toEqual([
      [1, 1],
      [1, 0],
    ]);
    expect(entry?.recent_requests[19]?.time).toMatch(/^\d{2}:\d{2}-\d{2}:\d{2}$/);
    expect(usage.countsOf('i1')).toMatchObject({ success: 1, failed: 0 });
    expect(usage.countsOf('nope')).toBeUndefined();
    now += 21 * 10 * 60_000;
    expect(
      usage
        .apiKeyUsage()
        .claude?.['https://a|k']?.recent_requests.every((b) => b.success === 0 && b.failed === 0),
    ).toBe(true);
  });
});
