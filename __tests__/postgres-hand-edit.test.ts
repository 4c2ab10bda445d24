/**
 * A hand edit of a replica's mirror against a change of the same lines made meanwhile through
 * another replica (the PostgreSQL engine's three-way merge). The engine's rule: changes on
 * other lines are all kept; where both sides changed the same lines, the hand edit wins (it is
 * the newest intent of a person), so it is never lost silently.
 */
import { writeFileSync } from 'node:fs';
import request from 'supertest';
import { api, auth, eventually, fixtureWith } from './helpers';
import { dropNamespace, replica, sql, stopDatabase, uniqueNamespace, type Replica } from './pg';

jest.setTimeout(60_000);

const open: Replica[] = [];
const namespaces: string[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
  for (const ns of namespaces.splice(0)) await dropNamespace(ns);
});
afterAll(stopDatabase);

const row = async (namespace: string) =>
  (await sql<{ text: string }>('SELECT text FROM cpm_config WHERE namespace = $1', [namespace]))[0]
    ?.text;

describe('hand edit against a change of the same line', () => {
  it('the hand edit wins on the lines both changed; the other replica’s change of another line is kept', async () => {
    const n = uniqueNamespace('handconflict');
    namespaces.push(n);
    const [a, b] = [
      await replica(n, { seed: fixtureWith() }),
      await replica(n, { seed: fixtureWith() }),
    ];
    open.push(a, b);
    await Promise.all([a.router.ready(), b.router.ready()]);
    const original = a.readMirror();
    expect(original).toContain('- "your-api-key-1"   # laptop\n- "your-api-key-2"   # CI\n');
    // A person opens the mirror of a and edits the first API key...
    const edited = original.replace(
      '- "your-api-key-1"   # laptop',
      '- "hand-key-1"   # laptop, by hand',
    );
    // ...while both keys are replaced through b, then another line changes too.
    await request(b.app)
      .put(api('/api-keys'))
      .set(auth)
      .send(['api-key-from-b-1', 'api-key-from-b-2'])
      .expect(200);
    await request(b.app).put(api('/request-retry')).set(auth).send({ value: 9 }).expect(200);
    // The save comes after a's mirror took both changes (see lib/store/postgres/README.md on the
    // window of a save racing the mirror's own rename).
    await eventually(
      () =>
        a.readMirror().includes('request-retry: 9') && a.readMirror().includes('api-key-from-b-1'),
      15_000,
    );
    writeFileSync(a.configPath, edited);
    await a.router.reload(); // the check the watcher runs, made now: the edit is pushed (queued)
    await request(a.app).put(api('/request-retry')).set(auth).send({ value: 11 }).expect(200); // committed after the push
    // The conflicting lines (the two keys, changed on both sides) as the person left them; b's
    // change of another line kept (and then changed again by the write above, made on top).
    const merged = edited.replace('request-retry: 3', 'request-retry: 11');
    expect(merged).not.toBe(edited);
    expect(await row(n)).toBe(merged);
    for (const r of [a, b]) {
      await eventually(() => r.readMirror() === merged, 15_000);
      const keys = await request(r.app).get(api('/api-keys')).set(auth);
      expect({ status: keys.status, body: keys.body }).toEqual({
        status: 200,
        body: { 'api-keys': ['hand-key-1', 'your-api-key-2'] },
      });
      expect(r.router.getConfig()['request-retry']).toBe(11);
    }
  });
});
