// The test files the pack test runs inside the test runners Express users have (jest as
// CommonJS, jest as ES modules, vitest, `node --test`, mocha), against the installed tarball,
// with supertest, under a custom prefix. One body for all; only the imports and hook names
// differ. Each run must pass and end on its own: no open handle, no "did not exit" warning.
//
// What the body covers: a config with a plaintext key (hashed and written back at start: the
// cross-process lock and bcrypt load on first use, which jest's module VM once refused), a
// second config whose key is already a hash (a bcrypt compare on the first request), a wrong
// key, a multipart upload (multer loads on first use), and close() letting the runner exit.

export const KEY = 'runner-key';
export const PREFIX = '/admin/api';

const body = (t) => `
const tmp = createTempConfig('remote-management:\\n  secret-key: "${KEY}"\\n');
const management = createManagementRouter(tmp.configPath, tmp.authDir, { bcryptRounds: 4 });
const app = express();
app.use('${PREFIX}', management);

${t.after}(async () => {
  await management.close();
  tmp.cleanup();
});

${t.test}('a plaintext key: hashed in place at start, then a PUT under ${PREFIX}', async () => {
  await management.ready();
  assert.match(readFileSync(tmp.configPath, 'utf8'), /secret-key: "\\$2[aby]\\$/);
  const res = await request(app).put('${PREFIX}/debug').set('Authorization', 'Bearer ${KEY}').send({ value: true });
  assert.deepEqual({ status: res.status, body: res.body }, { status: 200, body: { status: 'ok' } });
  assert.equal(management.getConfig().debug, true);
  assert.match(readFileSync(tmp.configPath, 'utf8'), /debug: true/);
});

${t.test}('a key that is already a hash: GET, a wrong key, an upload', async () => {
  const again = createTempConfig(readFileSync(tmp.configPath, 'utf8'));
  const second = createManagementRouter(again.configPath, again.authDir, { bcryptRounds: 4 });
  try {
    const host = express();
    host.use('${PREFIX}', second);
    const ok = await request(host).get('${PREFIX}/debug').set('X-Management-Key', '${KEY}');
    assert.deepEqual({ status: ok.status, body: ok.body }, { status: 200, body: { debug: true } });
    const wrong = await request(host).get('${PREFIX}/debug').set('X-Management-Key', 'wrong');
    assert.deepEqual({ status: wrong.status, body: wrong.body }, { status: 401, body: { error: 'invalid management key' } });
    const up = await request(host).post('${PREFIX}/auth-files').set('X-Management-Key', '${KEY}').attach('file', Buffer.from('{"type":"t"}'), 'a.json');
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.equal(readFileSync(again.authDir + '/a.json', 'utf8'), '{"type":"t"}');
  } finally {
    await second.close();
    again.cleanup();
  }
});
`;

const ESM_IMPORTS = `import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import express from 'express';
import request from 'supertest';
import { createManagementRouter, createTempConfig } from 'cli-proxy-management';
`;
const CJS_IMPORTS = `const assert = require('node:assert/strict');
const { readFileSync } = require('node:fs');
const express = require('express');
const request = require('supertest');
const { createManagementRouter, createTempConfig } = require('cli-proxy-management');
`;

/** A test's time limit in every runner: their defaults (2 to 5 s) are too short on a busy CI machine. */
export const SLOW = 120_000;

/**
 * The runs: folder, file name, file text, and the command (arguments after `node`), each run
 * from the project folder.
 */
export const RUNNERS = [
  {
    name: 'jest (CommonJS)',
    file: 'jest-cjs/app.test.cjs',
    text: CJS_IMPORTS + body({ test: 'test', after: 'afterAll' }),
    args: ['node_modules/jest/bin/jest.js', '--ci', `--testTimeout=${SLOW}`, 'jest-cjs/'],
  },
  {
    name: 'jest (ES modules, --experimental-vm-modules)',
    file: 'jest-esm/app.test.mjs',
    text: `import { afterAll, test } from '@jest/globals';\n${ESM_IMPORTS}${body({ test: 'test', after: 'afterAll' })}`,
    args: [
      '--experimental-vm-modules',
      'node_modules/jest/bin/jest.js',
      '--ci',
      `--testTimeout=${SLOW}`,
      'jest-esm/',
    ],
  },
  {
    name: 'vitest',
    file: 'vitest/app.test.mjs',
    text: `import { afterAll, test } from 'vitest';\n${ESM_IMPORTS}${body({ test: 'test', after: 'afterAll' })}`,
    args: [
      'node_modules/vitest/vitest.mjs',
      'run',
      `--testTimeout=${SLOW}`,
      `--hookTimeout=${SLOW}`,
      '--dir',
      'vitest',
    ],
  },
  {
    name: 'node --test',
    file: 'node-test/app.test.mjs',
    text: `import { after, test } from 'node:test';\n${ESM_IMPORTS}${body({ test: 'test', after: 'after' })}`,
    args: ['--test', 'node-test/app.test.mjs'],
  },
  {
    name: 'mocha',
    file: 'mocha/app.test.cjs',
    text: CJS_IMPORTS + body({ test: 'it', after: 'after' }),
    args: ['node_modules/mocha/bin/mocha.js', '--timeout', String(SLOW), 'mocha/app.test.cjs'],
  },
];

/** What a runner prints when something outlives the tests (jest, vitest); none may appear. */
export const LEFT_OPEN =
  /did not exit|open handle|failed to exit|force exit|something prevents|close timed out|hanging/i;
