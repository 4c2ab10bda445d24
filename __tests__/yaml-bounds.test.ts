import request from 'supertest';
import { parse } from 'yaml';
import { yamlDepth } from '../lib/yaml/bounds';
import { api, auth, FIXTURE, harness, KEY_HASH, type Harness } from './helpers';

/**
 * `PUT /config.yaml` bounds the work of an upload before it is parsed, as JSON bodies are
 * bounded: nesting depth 64 (checked on the text, then on the value with aliases expanded), and
 * the body limit applies to the value once aliases are expanded. The answer names the cause.
 */
jest.setTimeout(60_000);
let h: Harness;
afterEach(() => h?.close());

const KEY = `remote-management:\n  secret-key: "${KEY_HASH}"\n`;
const putYaml = (text: string) =>
  request(h.app)
    .put(api('/config.yaml'))
    .set(auth)
    .set('Content-Type', 'application/yaml')
    .send(text);

async function refused(text: string, status: number, body: unknown): Promise<void> {
  const before = h.read();
  const res = await putYaml(text);
  expect({ status: res.status, body: res.body }).toEqual({ status, body });
  expect(h.read()).toBe(before);
}

const TOO_DEEP = { error: 'invalid_yaml', message: 'nested deeper than 64 levels' };

describe('nesting depth, before the parse', () => {
  it.each([
    ['512 KiB of [', `${KEY}a: ${'['.repeat(512 * 1024)}\n`],
    ['512 KiB of {', `${KEY}a: ${'{'.repeat(512 * 1024)}\n`],
    ['65 balanced flow levels', `${KEY}a: ${'['.repeat(65)}1${']'.repeat(65)}\n`],
    ['100,000 compact sequence levels', `${KEY}a:\n${'- '.repeat(100_000)}x\n`],
    [
      '70 block mapping levels',
      `${KEY}${Array.from({ length: 70 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} 1\n`,
    ],
    [
      'a quote inside a plain scalar does not hide what follows',
      `${KEY}x: a, "\ny: ${'['.repeat(70)}\n`,
    ],
    [
      'a closing bracket inside quotes does not hide depth',
      `${KEY}a: ${'["]", '.repeat(70)}1${']'.repeat(70)}\n`,
    ],
  ])('%s: 400 invalid_yaml naming the depth, nothing written', async (_name, text) => {
    h = harness();
    await refused(text, 400, TOO_DEEP);
  });

  it('what is not nesting is not counted: brackets in quoted and plain scalars, comments, block scalars', async () => {
    const text =
      KEY +
      `quoted: "${'['.repeat(200)}"\n` +
      `single: '${'{'.repeat(200)} it''s'\n` +
      `plain: a${'['.repeat(200)}\n` +
      `spaced: a ${'['.repeat(200)} "\n` +
      `# ${'['.repeat(200)}\n` +
      `block: |\n${Array.from({ length: 100 }, (_, i) => `  ${' '.repeat(i)}line ${i} [[[`).join('\n')}\n` +
      `folded: >-\n  ${'{'.repeat(100)}\n` +
      `deep: ${'['.repeat(60)}1${']'.repeat(60)}\n` +
      'after: 1\n';
    expect(yamlDepth(text)).toBe(61);
    h = harness();
    const res = await putYaml(text);
    expect({ status: res.status, body: res.body }).toEqual({
      status: 200,
      body: { status: 'ok', ok: true, changed: ['config'] },
    });
    expect((parse(h.read()) as Record<string, unknown>).after).toBe(1);
  });

  it('the fixture (comments, anchors, merges, flow lists) is well under the bound', () => {
    expect(yamlDepth(FIXTURE)).toBeLessThan(8);
  });

  it('nesting reached only through aliases counts too', async () => {
    // 40 levels, each an alias of the one before inside 2 more: the value is 80 deep.
    let text = `${KEY}l0: &l0 1\n`;
    for (let i = 1; i <= 40; i++) text += `l${i}: &l${i} [[*l${i - 1}]]\n`;
    expect(yamlDepth(text)).toBeLessThanOrEqual(64);
    h = harness();
    await refused(text, 400, {
      error: 'invalid_yaml',
      message: 'nested deeper than 64 levels once its aliases are expanded',
    });
  });
});

describe('alias amplification', () => {
  it('the body limit applies to the value once its aliases are expanded: 413, nothing written', async () => {
    h = harness(undefined, { bodyLimit: 256 * 1024 });
    const anchor = `big: &big [${Array.from({ length: 2000 }, (_, i) => `item-${String(i).padStart(6, '0')}`).join(', ')}]\n`;
    const text = `${KEY}${anchor}copies:\n${Array.from({ length: 100 }, () => '  - *big').join('\n')}\n`;
    expect(text.length).toBeLessThan(64 * 1024);
    await refused(text, 413, {
      error: 'request body too large',
      message:
        'the config is larger than the body limit (262144 bytes) once its aliases are expanded',
    });
  });

  it('a few aliases of a small anchor (what configs use them for) pass', async () => {
    h = harness(undefined, { bodyLimit: '256kb' });
    const text = `${KEY}base: &b {timeout: 30, retries: 2}\none:\n  <<: *b\ntwo:\n  <<: *b\nlist: [*b, *b]\n`;
    const res = await putYaml(text);
    expect(res.status).toBe(200);
  });
});
