/**
 * Auth files tried as an attacker: one name rule on every route (a name is taken exactly as
 * sent, surrounding spaces refused), bounded field paths, and a deleted token that stays deleted
 * when a PATCH races the DELETE.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { api, auth, harness, type Harness } from './helpers';

let h: Harness;
afterEach(() => h.close());

const ACC = '{"type":"codex","email":"a@example.com"}\n';
const inDir = (name: string): string => path.join(h.authDir, name);
function put(name: string, content = ACC): void {
  mkdirSync(h.authDir, { recursive: true });
  writeFileSync(inDir(name), content, { mode: 0o600 });
}
/** The folder's names and bytes. */
const snapshot = (): Record<string, string> =>
  Object.fromEntries(readdirSync(h.authDir).map((n) => [n, readFileSync(inDir(n), 'utf8')]));
const INVALID = { error: 'invalid name' };

describe('one name rule: surrounding spaces are never trimmed into another name', () => {
  const PADDED = [' acc.json', 'acc.json ', '  acc.json  '];

  it.each(PADDED)(
    '%j: every single-name route answers 400 invalid name and acc.json is untouched',
    async (name) => {
      h = harness();
      put('acc.json');
      const before = snapshot();
      const answers = [
        await request(h.app)
          .post(api('/auth-files'))
          .query({ name })
          .set(auth)
          .send(Buffer.from(ACC)),
        await request(h.app)
          .post(api('/auth-files'))
          .set(auth)
          .attach('file', Buffer.from(ACC), name),
        await request(h.app).get(api('/auth-files/download')).query({ name }).set(auth),
        await request(h.app).delete(api('/auth-files')).query({ name }).set(auth),
        await request(h.app)
          .delete(api('/auth-files'))
          .set(auth)
          .send({ names: [name] }),
        await request(h.app)
          .patch(api('/auth-files/status'))
          .set(auth)
          .send({ name, disabled: true }),
        await request(h.app).patch(api('/auth-files/fields')).set(auth).send({ name, prefix: 'x' }),
      ];
      for (const res of answers)
        expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: INVALID });
      expect(snapshot()).toEqual(before);
    },
  );

  it('a batch upload: the padded name fails alone with the same reason, the others are done', async () => {
    h = harness();
    put('acc.json');
    const up = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .attach('file', Buffer.from(ACC), ' c.json')
      .attach('file', Buffer.from(ACC), 'd.json');
    expect({ status: up.status, body: up.body }).toEqual({
      status: 207,
      body: {
        status: 'partial',
        uploaded: 1,
        files: ['d.json'],
        failed: [{ name: ' c.json', error: 'invalid name' }],
      },
    });
    expect(readdirSync(h.authDir).sort()).toEqual(['acc.json', 'd.json']);
  });

  it('a batch delete list is trimmed as documented (no stored name is padded), a single name never is', async () => {
    h = harness();
    put('acc.json');
    put('b.json');
    put('c.json');
    const del = await request(h.app)
      .delete(api('/auth-files'))
      .set(auth)
      .send({ names: [' acc.json', 'b.json '] });
    expect({ status: del.status, body: del.body }).toEqual({
      status: 200,
      body: { status: 'ok', deleted: 2, files: ['acc.json', 'b.json'] },
    });
    const one = await request(h.app)
      .delete(api('/auth-files'))
      .set(auth)
      .send({ names: [' c.json', ''] });
    expect({ status: one.status, body: one.body }).toEqual({ status: 400, body: INVALID });
    expect(readdirSync(h.authDir)).toEqual(['c.json']);
  });

  it('a padded file made by hand is not listed (no route could reach it)', async () => {
    h = harness();
    put(' acc.json');
    put('b.json');
    const res = await request(h.app).get(api('/auth-files')).set(auth);
    expect((res.body as { files: { name: string }[] }).files.map((f) => f.name)).toEqual([
      'b.json',
    ]);
  });
});

describe('PATCH /auth-files/fields: bounded paths', () => {
  const TOO_DEEP = { error: 'field path too deep: the result would nest deeper than 64 levels' };

  it.each([[65], [2000], [20000]])(
    'a %i-segment dotted path is 400, the file unchanged',
    async (n) => {
      h = harness();
      put('acc.json');
      const before = snapshot();
      const res = await request(h.app)
        .patch(api('/auth-files/fields'))
        .set(auth)
        .send({ name: 'acc.json', [Array(n).fill('a').join('.')]: 1 });
      expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: TOO_DEEP });
      expect(snapshot()).toEqual(before);
    },
  );

  it('the path and the value count together; 64 levels in all still works', async () => {
    h = harness();
    put('acc.json');
    const nested = (d: number): unknown => (d === 0 ? 1 : { x: nested(d - 1) });
    const deep = await request(h.app)
      .patch(api('/auth-files/fields'))
      .set(auth)
      .send({ name: 'acc.json', [Array(40).fill('a').join('.')]: nested(25) });
    expect({ status: deep.status, body: deep.body }).toEqual({ status: 400, body: TOO_DEEP });
    const ok = await request(h.app)
      .patch(api('/auth-files/fields'))
      .set(auth)
      .send({ name: 'acc.json', [Array(40).fill('a').join('.')]: nested(24) });
    expect(ok.status).toBe(200);
  });

  it('an edit that would grow the file past the upload limit is 413, the file unchanged', async () => {
    h = harness(undefined, { uploadLimit: 64 * 1024 });
    put('acc.json');
    const before = snapshot();
    const res = await request(h.app)
      .patch(api('/auth-files/fields'))
      .set(auth)
      .send({ name: 'acc.json', note: 'x'.repeat(70 * 1024) });
    expect({ status: res.status, body: res.body }).toEqual({
      status: 413,
      body: { error: 'file too large' },
    });
    expect(snapshot()).toEqual(before);
    expect(statSync(inDir('acc.json')).size).toBe(ACC.length);
  });
});

describe('a PATCH racing a DELETE of the same file', () => {
  it('never brings the deleted file back: when both answer 200 the file is gone; else the loser is 404', async () => {
    h = harness();
    for (let round = 0; round < 40; round++) {
      put('acc.json');
      const [patch, del] = await Promise.all([
        request(h.app)
          .patch(api('/auth-files/status'))
          .set(auth)
          .send({ name: 'acc.json', disabled: true }),
        request(h.app).delete(api('/auth-files')).query({ name: 'acc.json' }).set(auth),
      ]);
      expect(del.status).toBe(200);
      if (patch.status !== 200)
        expect({ status: patch.status, body: patch.body }).toEqual({
          status: 404,
          body: { error: 'file not found' },
        });
      expect(existsSync(inDir('acc.json'))).toBe(false);
    }
    // Which request wins a round is the scheduler's choice; no round may end with the file on disk.
  });
});
