/**
 * `POST /vertex/import`: a service-account key becomes `vertex-<project_id>.json` (PKCS#1 key,
 * atomic, 0600, merged with an existing file); every refusal a JSON 400/413 that writes nothing.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { AuthFileSource } from '../lib';
import { api, auth, harness, type Harness } from './helpers';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const PKCS8 = rsa.export({ type: 'pkcs8', format: 'pem' }).toString();
const EC = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

const account = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'service_account',
  project_id: 'p1',
  private_key_id: 'abc',
  private_key: PKCS8,
  client_email: 'svc@p1.iam.gserviceaccount.com',
  token_uri: 'https://oauth2.googleapis.com/token',
  ...extra,
});

let h: Harness;
const told: [string, AuthFileSource][] = [];
beforeEach(() => {
  told.length = 0;
  h = harness(undefined, {
    uploadLimit: 64 * 1024,
    onAuthFile: (name, source) => void told.push([name, source]),
  });
});
afterEach(() => h.close());

const files = (): string[] => {
  try {
    return readdirSync(h.authDir).sort();
  } catch {
    return [];
  }
};

const upload = (content: string | Buffer, query = '', location?: string) => {
  const req = request(h.app)
    .post(api(`/vertex/import${query}`))
    .set(auth);
  if (location !== undefined) req.field('location', location);
  return req.attach('file', Buffer.from(content), {
    filename: 'sa.json',
    contentType: 'application/json',
  });
};

it('PKCS#8 in, PKCS#1 stored: the file, its members, mode 0600, the answer, the host told', async () => {
  const res = await upload(JSON.stringify(account()));
  expect(res.status).toBe(200);
  expect(res.body).toEqual({
    status: 'ok',
    'auth-file': 'vertex-p1.json',
    project_id: 'p1',
    email: 'svc@p1.iam.gserviceaccount.com',
    location: 'us-central1',
  });
  const file = path.join(h.authDir, 'vertex-p1.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
  expect(json).toEqual({
    type: 'vertex',
    project_id: 'p1',
    email: 'svc@p1.iam.gserviceaccount.com',
    location: 'us-central1',
    label: 'p1 (svc@p1.iam.gserviceaccount.com)',
    service_account: {
      ...account(),
      private_key: expect.stringMatching(/^-----BEGIN RSA PRIVATE KEY-----\n/),
    },
  });
  const stored = createPrivateKey(String(json.service_account?.private_key));
  expect(stored.export({ type: 'pkcs8', format: 'pem' })).toBe(PKCS8);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(told).toEqual([['vertex-p1.json', 'upload']]);
});

it('line ends written as text are repaired; location from the field, else the query; odd project ids are cleaned', async () => {
  const broken = PKCS8.replace(/\n/g, '\\n');
  const res = await upload(
    JSON.stringify(account({ private_key: broken, project_id: 'org:team/p 2' })),
    '?location=europe-west4',
  );
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({
    'auth-file': 'vertex-org_team_p-2.json',
    location: 'europe-west4',
  });
  const field = await upload(JSON.stringify(account()), '?location=ignored', '  asia-east1  ');
  expect(field.body).toMatchObject({ location: 'asia-east1' });
});

it('a re-import keeps the members a user added (prefix) and replaces the rest', async () => {
  await upload(JSON.stringify(account()));
  const file = path.join(h.authDir, 'vertex-p1.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...JSON.parse(readFileSync(file, 'utf8')),
      prefix: 'team-a',
      location: 'old',
    }),
  );
  await upload(JSON.stringify(account()), '', 'us-east1');
  expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({
    prefix: 'team-a',
    location: 'us-east1',
  });
});

describe('refusals: JSON 400s and 413, nothing written', () => {
  const cases: [string, () => request.Test, number, unknown][] = [
    [
      'an EC key',
      () => upload(JSON.stringify(account({ private_key: EC }))),
      400,
      { error: 'invalid service account', message: 'private_key is not an RSA key' },
    ],
    [
      'no private_key',
      () => upload(JSON.stringify(account({ private_key: undefined }))),
      400,
      { error: 'invalid service account', message: 'private_key missing' },
    ],
    [
      'a key that is not PEM',
      () => upload(JSON.stringify(account({ private_key: 'hello' }))),
      400,
      { error: 'invalid service account', message: 'private_key is not an RSA PEM key' },
    ],
    [
      'a broken PEM',
      () =>
        upload(
          JSON.stringify(
            account({
              private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----',
            }),
          ),
        ),
      400,
      { error: 'invalid service account', message: 'private_key is not a readable PEM key' },
    ],
    [
      'no project_id',
      () => upload(JSON.stringify(account({ project_id: undefined }))),
      400,
      { error: 'project_id missing' },
    ],
    [
      'a blank project_id',
      () => upload(JSON.stringify(account({ project_id: '  ' }))),
      400,
      { error: 'project_id missing' },
    ],
    [
      'a project_id that cannot be a file name',
      () => upload(JSON.stringify(account({ project_id: 'p%1' }))),
      400,
      { error: 'invalid service account', message: 'project_id cannot make a file name' },
    ],
    [
      'no file part',
      () => request(h.app).post(api('/vertex/import')).set(auth).field('location', 'x'),
      400,
      { error: 'file required' },
    ],
    [
      'no multipart at all',
      () => request(h.app).post(api('/vertex/import')).set(auth).send({}),
      400,
      { error: 'file required' },
    ],
    ['not JSON', () => upload('not json'), 400, { error: 'invalid json' }],
    ['a JSON array', () => upload('[1]'), 400, { error: 'invalid json' }],
    [
      'a location over 64 characters',
      () => upload(JSON.stringify(account()), `?location=${'a'.repeat(65)}`),
      400,
      { error: 'invalid location' },
    ],
    [
      'an unprintable location',
      () => upload(JSON.stringify(account()), '', 'eu\u0001'),
      400,
      { error: 'invalid location' },
    ],
    [
      'a file over uploadLimit',
      () => upload(JSON.stringify(account({ pad: 'x'.repeat(70 * 1024) }))),
      413,
      { error: 'request body too large' },
    ],
  ];
  it.each(cases)('%s', async (_label, send, status, body) => {
    mkdirSync(h.authDir, { recursive: true });
    writeFileSync(path.join(h.authDir, 'keep.json'), '{"a":1}');
    const res = await send();
    expect([res.status, res.body]).toEqual([status, body]);
    expect(files()).toEqual(['keep.json']);
    expect(readFileSync(path.join(h.authDir, 'keep.json'), 'utf8')).toBe('{"a":1}');
    expect(told).toEqual([]);
  });

  it('needs the key', async () => {
    const res = await request(h.app)
      .post(api('/vertex/import'))
      .attach('file', Buffer.from(JSON.stringify(account())), 'sa.json');
    expect(res.status).toBe(401);
    expect(files()).toEqual([]);
  });
});

it('an upload to /auth-files tells the host too', async () => {
  const res = await request(h.app).post(api('/auth-files?name=a.json')).set(auth).send('{"x":1}');
  expect(res.status).toBe(200);
  expect(told).toEqual([['a.json', 'upload']]);
});
