/**
 * How a host tests its own app with the Management API mounted: a temp config per test
 * (`createTempConfig`), a plaintext key in it (the router hashes it at start; cost 4 keeps that
 * fast), supertest against the app, and `close()` + `cleanup()` after each test so jest exits.
 */
import request from 'supertest';
import { createTempConfig, type TempConfig } from '../../lib'; // 'cli-proxy-management'
import { createApp, type HostApp } from './app';

const KEY = 'test-key';
const auth = { Authorization: `Bearer ${KEY}` };

let tmp: TempConfig;
let host: HostApp;

beforeEach(() => {
  tmp = createTempConfig(`# test config
remote-management:
  secret-key: "${KEY}"
debug: false
`);
  host = createApp(tmp.configPath, tmp.authDir, { bcryptRounds: 4, watch: false });
});

afterEach(async () => {
  await host.management.close();
  tmp.cleanup();
});

it('the host routes work beside the Management API', async () => {
  const res = await request(host.app).get('/health');
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ ok: true, debug: false });
});

it('a change through the Management API reaches the host at once', async () => {
  const put = await request(host.app).put('/v0/management/debug').set(auth).send({ value: true });
  expect(put.status).toBe(200);
  expect(put.body).toEqual({ status: 'ok' });
  expect((await request(host.app).get('/health')).body).toEqual({ ok: true, debug: true });
});

it('the Management API refuses a wrong key, and the host 404 answers outside it', async () => {
  const wrong = await request(host.app)
    .get('/v0/management/debug')
    .set('Authorization', 'Bearer nope');
  expect(wrong.status).toBe(401);
  expect(wrong.body).toEqual({ error: 'invalid management key' });
  const other = await request(host.app).get('/nowhere');
  expect(other.status).toBe(404);
  expect(other.body).toEqual({ error: 'no such route in the host app' });
});
