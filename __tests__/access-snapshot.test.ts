// The access layer decides "API disabled" once per request: its gate reads the config snapshot
// once, and the remote and key checks after it read that same snapshot, not the store again.
import express from 'express';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createManagementRouter, type ManagementRouter } from '../lib';
import { ConfigCore } from '../lib/config/store';
import { api, auth, fixtureWith } from './helpers';

let dir: string;
let router: ManagementRouter | undefined;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-access-once-'));
});
afterEach(async () => {
  await router?.close();
  router = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Reads of the config snapshot, by any router's store (one router runs per test). */
function countingReads(): { reads: () => number } {
  const spy = jest.spyOn(ConfigCore.prototype, 'snapshot', 'get');
  return { reads: () => spy.mock.calls.length };
}
afterEach(() => jest.restoreAllMocks());

describe.each([
  ['without the panel', false],
  ['with the panel (gate, remote, panel files, key as separate layers)', true],
])('%s', (_name, panel) => {
  function mount(text = fixtureWith()): { app: express.Express; reads: () => number } {
    const configPath = path.join(dir, 'config.yaml');
    writeFileSync(configPath, text);
    const counting = countingReads();
    router = createManagementRouter(configPath, path.join(dir, 'auths'), {
      panel,
      watch: false,
      bcryptRounds: 4,
      logger: { warn: () => undefined },
    });
    const app = express();
    app.use('/v0/management', router);
    return { app, reads: counting.reads };
  }

  it.each([
    ['a good key on a path no route holds', auth, 404, { error: 'not found' }],
    ['no key', {}, 401, { error: 'missing management key' }],
    ['a wrong key', { Authorization: 'Bearer wrong' }, 401, { error: 'invalid management key' }],
  ])('%s: the config is read once per request', async (_what, headers, status, body) => {
    const { app, reads } = mount();
    await router?.ready();
    const before = reads();
    const res = await request(app).get(api('/no-such-route')).set(headers);
    expect(res.status).toBe(status);
    expect(res.body).toEqual(body);
    expect(reads() - before).toBe(1);
  });

  it('a disabled API is decided by that one read: the host answers', async () => {
    const { app, reads } = mount(fixtureWith(''));
    await router?.ready();
    const before = reads();
    const res = await request(app).get(api('/debug')).set(auth);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^text\/html/); // Express's own 404, not ours
    expect(reads() - before).toBe(1);
  });
});
