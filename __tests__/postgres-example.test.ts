/** examples/postgres: two replicas of the example host on one database serve each other's changes. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createReplicaApp, type ReplicaApp } from '../examples/postgres';
import { auth, eventually, fixtureWith } from './helpers';
import { databaseUrl, dropNamespace, stopDatabase, uniqueNamespace } from './pg';

jest.setTimeout(60_000);

const namespace = uniqueNamespace('example');
let dir: string;
let replicas: ReplicaApp[] = [];
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-pg-example-'));
});
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.management.close()));
  rmSync(dir, { recursive: true, force: true });
  await dropNamespace(namespace);
  await stopDatabase();
});

it('the first replica seeds the database, the second needs no local config; a change through one is served by both', async () => {
  const connectionString = await databaseUrl();
  const [a, b] = ['a', 'b'].map((name) => {
    mkdirSync(path.join(dir, name));
    return path.join(dir, name);
  }) as [string, string];
  writeFileSync(path.join(a, 'config.yaml'), fixtureWith());
  const quiet = { bcryptRounds: 4, logger: { warn: () => undefined } };
  replicas = [a, b].map((own) =>
    createReplicaApp({
      connectionString,
      namespace,
      configPath: path.join(own, 'config.yaml'),
      authDir: path.join(own, 'auths'),
      management: quiet,
    }),
  );
  await Promise.all(replicas.map((r) => r.management.ready()));
  const [ra, rb] = replicas as [ReplicaApp, ReplicaApp];
  expect(readFileSync(path.join(b, 'config.yaml'), 'utf8')).toBe(fixtureWith());

  await request(ra.app).put('/v0/management/debug').set(auth).send({ value: true }).expect(200);
  await eventually(() => rb.management.getConfig().debug === true);
  expect((await request(rb.app).get('/')).body).toEqual({ debug: true, 'request-retry': 3 });
  expect((await request(rb.app).get('/v0/management/debug').set(auth)).body).toEqual({
    debug: true,
  });
  await eventually(() => readFileSync(path.join(b, 'config.yaml'), 'utf8').includes('debug: true'));
});
