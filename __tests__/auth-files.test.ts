import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createManagementRouter, ManagementError } from '../lib';
import { resolveSettings } from '../lib/settings';
import { authFileName, contentDisposition } from '../lib/kinds/files/routes';
import { atomicWrite } from '../lib/engines/file/atomic-write';
import { auth, eventually, harness, type Harness, api } from './helpers';

let h: Harness;
let outside: string;
const SECRET = '{"refresh_token":"outside-secret"}';

beforeEach(() => {
  h = harness(undefined, { uploadLimit: 256 });
  outside = path.join(h.dir, 'outside.json');
  writeFileSync(outside, SECRET, { mode: 0o600 });
});
afterEach(() => h.close());

const inDir = (name: string) => path.join(h.authDir, name);
const ACC = '{"type":"gemini","email":"a@example.com","token":{"access_token":"x"}}';

/** Put a file into authDir by hand (the folder is created when missing). */
function put(name: string, content = ACC, mode = 0o600): string {
  mkdirSync(h.authDir, { recursive: true });
  writeFileSync(inDir(name), content, { mode });
  return inDir(name);
}

/** The folder's usual odd neighbours: a directory and a symlink that both look like `.json` files. */
function oddEntries(): void {
  mkdirSync(inDir('x.json'), { recursive: true });
  writeFileSync(path.join(inDir('x.json'), 'inner.json'), '{}');
  symlinkSync(outside, inDir('y.json'));
}

/** Every entry under the sandbox (config, authDir, the outside file): type, mode, content, link target. */
function tree(root = h.dir): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const key = rel ? `${rel}/${name}` : name;
      const st = lstatSync(full);
      if (st.isSymbolicLink()) out[key] = `link -> ${readlinkSync(full)}`;
      else if (st.isDirectory()) {
        out[key] = `dir ${(st.mode & 0o777).toString(8)}`;
        walk(full, key);
      } else out[key] = `file ${(st.mode & 0o777).toString(8)} ${readFileSync(full, 'latin1')}`;
    }
  };
  if (existsSync(root)) walk(root, '');
  return out;
}

/** A hand-made multipart body, for file names a client library would clean up before sending. */
function multipart(parts: { name: string; filename?: string; content: string | Buffer }[]): {
  type: string;
  body: Buffer;
} {
  const boundary = '----cpm-test-boundary-7d3f';
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const fn = p.filename === undefined ? '' : `; filename="${p.filename}"`;
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${fn}\r\n`),
    );
    if (p.filename !== undefined) chunks.push(Buffer.from('Content-Type: application/json\r\n'));
    chunks.push(Buffer.from('\r\n'), Buffer.from(p.content), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { type: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(chunks) };
}

const NAME_255 = `${'a'.repeat(250)}.json`;

/** Names a client can send that must never reach outside authDir, as raw query strings. */
const TRAVERSALS: [string, string][] = [
  ['raw ../', '../outside.json'],
  ['percent-encoded ../', '..%2Foutside.json'],
  ['percent-encoded dots and slash', '%2E%2E%2Foutside.json'],
  ['double-encoded slash', '..%252Foutside.json'],
  ['raw backslash', '..\\outside.json'],
  ['percent-encoded backslash', '..%5Coutside.json'],
  ['NUL before the ending', 'acc1.json%00.json'],
  ['NUL at the end', 'acc1.json%00'],
  ['newline', 'acc1%0A.json'],
  ['tab', 'acc%09.json'],
  ['dot file', '.hidden.json'],
  ['dot-dot file', '..json'],
  ['only the ending', '.json'],
  ['dot-dot', '..'],
  ['absolute path', 'ABSOLUTE'],
  ['percent-encoded absolute path', 'ENCODED_ABSOLUTE'],
  ['sub-folder', 'x.json%2Finner.json'],
  ['trailing slash', 'acc1.json%2F'],
  ['fullwidth solidus', '..%EF%BC%8Foutside.json'],
  ['percent sign', 'a%25b.json'],
  ['colon', 'c%3Aacc.json'],
  ['256 bytes', `${'a'.repeat(251)}.json`],
  ['256 bytes in 2-byte letters', `${'%C3%A9'.repeat(126)}.json`],
  ['empty', ''],
];

function query(raw: string): string {
  if (raw === 'ABSOLUTE') return outside;
  if (raw === 'ENCODED_ABSOLUTE') return encodeURIComponent(outside);
  return raw;
}

describe('GET /auth-files', () => {
  it('answers {"files":[]} when the folder does not exist (yet, or any more)', async () => {
    expect(existsSync(h.authDir)).toBe(false);
    const first = await request(h.app).get(api('/auth-files')).set(auth);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ files: [] });
    put('a.json');
    rmSync(h.authDir, { recursive: true });
    const vanished = await request(h.app).get(api('/auth-files')).set(auth);
    expect(vanished.status).toBe(200);
    expect(vanished.body).toEqual({ files: [] });
  });

  it('lists regular .json files only, sorted by name, with size and ISO modtime; never a symlink', async () => {
    const when = new Date('2025-08-30T12:34:56.000Z');
    for (const [name, content] of [
      ['b.json', '{"b":1}'],
      ['a.json', ACC],
      ['C.JSON', '{}'],
    ] as const) {
      utimesSync(put(name, content), when, when);
    }
    put('notes.txt', 'hello');
    oddEntries();
    symlinkSync(outside, inDir('z.txt'));
    const res = await request(h.app).get(api('/auth-files')).set(auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    // Section 7's members; the entries derived from the contents (10.7) are in auth-files-current.test.ts.
    expect(res.body).toEqual({
      files: [
        expect.objectContaining({ name: 'C.JSON', size: 2, modtime: '2025-08-30T12:34:56.000Z' }),
        expect.objectContaining({
          name: 'a.json',
          size: Buffer.byteLength(ACC),
          modtime: '2025-08-30T12:34:56.000Z',
        }),
        expect.objectContaining({ name: 'b.json', size: 7, modtime: '2025-08-30T12:34:56.000Z' }),
      ],
    });
  });

  it('500 when authDir became a file', async () => {
    writeFileSync(h.authDir, 'not a folder');
    const res = await request(h.app).get(api('/auth-files')).set(auth);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'failed to list files: ENOTDIR' });
  });

  it('needs the management key like every route', async () => {
    const res = await request(h.app).get(api('/auth-files'));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'missing management key' });
  });
});

describe('GET /auth-files/download', () => {
  it('streams the bytes as application/json with an attachment Content-Disposition', async () => {
    put('acc1.json', ACC);
    const res = await request(h.app)
      .get(api('/auth-files/download?name=acc1.json'))
      .set(auth)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['content-disposition']).toBe('attachment; filename="acc1.json"');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(ACC)));
    expect(res.headers['cache-control']).toBe('no-store');
    expect((res.body as Buffer).toString('utf8')).toBe(ACC);
  });

  it('quotes a name with spaces, @ and +', async () => {
    put('my acc@example.com+2.json', '{"n":2}');
    const res = await request(h.app)
      .get(api(`/auth-files/download?name=${encodeURIComponent('my acc@example.com+2.json')}`))
      .set(auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe(
      'attachment; filename="my acc@example.com+2.json"',
    );
    expect(res.text).toBe('{"n":2}');
  });

  it('adds RFC 6266 filename* for a name beyond ASCII, with a ?-fallback', async () => {
    const name = 'compté 東京.json';
    put(name, '{"u":1}');
    const res = await request(h.app)
      .get(api(`/auth-files/download?name=${encodeURIComponent(name)}`))
      .set(auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe(
      `attachment; filename="compt? ??.json"; filename*=UTF-8''compt%C3%A9%20%E6%9D%B1%E4%BA%AC.json`,
    );
    expect(res.text).toBe('{"u":1}');
  });

  it('serves an empty file as zero bytes', async () => {
    put('empty.json', '');
    const res = await request(h.app).get(api('/auth-files/download?name=empty.json')).set(auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('0');
    expect(res.text).toBe('');
  });

  it.each([
    ['a missing file', 'nope.json'],
    ['a symlink to a file outside', 'y.json'],
    ['a folder named like a file', 'x.json'],
  ])('404 file not found for %s, never reading through it', async (_what, name) => {
    put('acc1.json');
    oddEntries();
    const res = await request(h.app)
      .get(api(`/auth-files/download?name=${name}`))
      .set(auth);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'file not found' });
    expect(res.text).not.toContain('outside-secret');
  });

  it('400 invalid name without ?name=, and for a repeated ?name=', async () => {
    for (const url of ['/auth-files/download', '/auth-files/download?name=a.json&name=b.json']) {
      const res = await request(h.app).get(api(url)).set(auth);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid name' });
    }
  });

  it('400 name must end with .json', async () => {
    put('notes.txt', 'hello');
    const res = await request(h.app).get(api('/auth-files/download?name=notes.txt')).set(auth);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'name must end with .json' });
  });

  it.each(TRAVERSALS)('400 invalid name, nothing read: %s', async (_what, raw) => {
    put('acc1.json');
    oddEntries();
    const res = await request(h.app)
      .get(api(`/auth-files/download?name=${query(raw)}`))
      .set(auth);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid name' });
    expect(res.text).not.toContain('outside-secret');
  });
});

describe('POST /auth-files', () => {
  it('multipart field "file": stored under the client file name, byte for byte, mode 0600; folder created 0700', async () => {
    expect(existsSync(h.authDir)).toBe(false);
    const res = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .attach('file', Buffer.from(ACC), 'acc1.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(statSync(h.authDir).mode & 0o777).toBe(0o700);
    expect(readFileSync(inDir('acc1.json'), 'utf8')).toBe(ACC);
    expect(statSync(inDir('acc1.json')).mode & 0o777).toBe(0o600);
    expect(readdirSync(h.authDir)).toEqual(['acc1.json']);
    const list = await request(h.app).get(api('/auth-files')).set(auth);
    expect(list.body.files.map((f: { name: string }) => f.name)).toEqual(['acc1.json']);
  });

  it('multipart ignores other fields and files of other fields', async () => {
    const res = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .field('note', 'hello')
      .attach('other', Buffer.from('{"other":true}'), 'other.json')
      .attach('file', Buffer.from('{"k":1}'), 'k.json');
    expect(res.status).toBe(200);
    expect(readdirSync(h.authDir)).toEqual(['k.json']);
  });

  it('multipart keeps a Unicode file name', async () => {
    const name = 'compte é 東京@x+1.json';
    const res = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .attach('file', Buffer.from('{"u":1}'), name);
    expect(res.status).toBe(200);
    expect(readFileSync(inDir(name), 'utf8')).toBe('{"u":1}');
  });

  it.each([
    ['application/x-www-form-urlencoded', 'as curl --data-binary sends it'],
    ['application/json', ''],
    ['application/octet-stream', ''],
    ['text/plain; charset=utf-8', ''],
  ])('raw body with ?name= and Content-Type %s %s', async (type) => {
    const res = await request(h.app)
      .post(api('/auth-files?name=acc1.json'))
      .set(auth)
      .set('Content-Type', type)
      .send(ACC);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(readFileSync(inDir('acc1.json'), 'utf8')).toBe(ACC);
    expect(statSync(inDir('acc1.json')).mode & 0o777).toBe(0o600);
  });

  it('overwrites a file of the same name, which then has mode 0600 whatever it had', async () => {
    put('acc1.json', '{"old":true}', 0o644);
    const res = await request(h.app)
      .post(api('/auth-files?name=acc1.json'))
      .set(auth)
      .type('form')
      .send('{"new":true}');
    expect(res.status).toBe(200);
    expect(readFileSync(inDir('acc1.json'), 'utf8')).toBe('{"new":true}');
    expect(statSync(inDir('acc1.json')).mode & 0o777).toBe(0o600);
    expect(readdirSync(h.authDir)).toEqual(['acc1.json']);
  });

  it('accepts a 255-byte name (its temp file name is shortened, and gone afterwards)', async () => {
    const res = await request(h.app)
      .post(api(`/auth-files?name=${NAME_255}`))
      .set(auth)
      .send('{}');
    expect(res.status).toBe(200);
    expect(readdirSync(h.authDir)).toEqual([NAME_255]);
  });

  it('writes exactly uploadLimit bytes; one more is 413 (raw and multipart), writing nothing', async () => {
    const fit = `{"p":"${'x'.repeat(256 - 8)}"}`;
    expect(Buffer.byteLength(fit)).toBe(256);
    expect(
      (await request(h.app).post(api('/auth-files?name=fit.json')).set(auth).send(fit)).status,
    ).toBe(200);
    expect(
      (
        await request(h.app)
          .post(api('/auth-files'))
          .set(auth)
          .attach('file', Buffer.from(fit), 'fit2.json')
      ).status,
    ).toBe(200);
    const before = tree();
    const over = `{"p":"${'x'.repeat(256 - 7)}"}`;
    const raw = await request(h.app)
      .post(api('/auth-files?name=over.json'))
      .set(auth)
      .type('form')
      .send(over);
    expect(raw.status).toBe(413);
    expect(raw.body).toEqual({ error: 'request body too large' });
    const form = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .attach('file', Buffer.from(over), 'over.json');
    expect(form.status).toBe(413);
    expect(form.body).toEqual({ error: 'request body too large' });
    const big = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .attach('file', Buffer.alloc(64 * 1024, 0x20), 'big.json');
    expect(big.status).toBe(413);
    expect(big.body).toEqual({ error: 'request body too large' });
    expect(tree()).toEqual(before);
  });

  it.each([
    ['malformed', '{"a":'],
    ['an array', '[1,2]'],
    ['a string', '"str"'],
    ['a number', '42'],
    ['null', 'null'],
    ['empty', ''],
    ['two values', '{} {}'],
    ['a BOM before the object', '\uFEFF{"a":1}'],
  ])('400 invalid json for %s, raw and multipart, writing nothing', async (_what, content) => {
    put('acc1.json', ACC);
    const before = tree();
    const raw = await request(h.app)
      .post(api('/auth-files?name=acc1.json'))
      .set(auth)
      .type('form')
      .send(content);
    expect(raw.status).toBe(400);
    expect(raw.body).toEqual({ error: 'invalid json' });
    const form = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .attach('file', Buffer.from(content), 'acc1.json');
    expect(form.status).toBe(400);
    expect(form.body).toEqual({ error: 'invalid json' });
    expect(tree()).toEqual(before);
  });

  it('400 invalid json for bytes that are not UTF-8', async () => {
    const res = await request(h.app)
      .post(api('/auth-files?name=bad.json'))
      .set(auth)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid json' });
    expect(existsSync(inDir('bad.json'))).toBe(false);
  });

  it('400 no file uploaded: multipart without a "file" part', async () => {
    const before = tree();
    for (const req of [
      request(h.app).post(api('/auth-files')).set(auth).field('note', 'hello'),
      request(h.app).post(api('/auth-files')).set(auth).field('file', '{"a":1}'),
      request(h.app)
        .post(api('/auth-files'))
        .set(auth)
        .attach('upload', Buffer.from('{"a":1}'), 'a.json'),
    ]) {
      const res = await req;
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'no file uploaded' });
    }
    expect(tree()).toEqual(before);
  });

  it('400 invalid body for a malformed multipart body (several "file" parts: auth-files-current.test.ts)', async () => {
    const before = tree();
    const cut = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .set('Content-Type', 'multipart/form-data; boundary=abc')
      .send('--abc\r\nContent-Disposition: form-data; name="file"; filename="a.json"\r\n\r\n{"a":');
    expect(cut.status).toBe(400);
    expect(cut.body).toEqual({ error: 'invalid body', details: 'malformed multipart body' });
    const noBoundary = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .set('Content-Type', 'multipart/form-data')
      .send('{"a":1}');
    expect(noBoundary.status).toBe(400);
    expect(noBoundary.body).toEqual({ error: 'invalid body', details: 'malformed multipart body' });
    expect(tree()).toEqual(before);
  });

  it('400 file must be .json for a multipart file with another ending', async () => {
    const before = tree();
    for (const filename of ['acc1.txt', 'acc1', 'acc1.json.txt']) {
      const res = await request(h.app)
        .post(api('/auth-files'))
        .set(auth)
        .attach('file', Buffer.from('{}'), filename);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'file must be .json' });
    }
    expect(tree()).toEqual(before);
  });

  it('400 invalid name / name must end with .json for a raw body', async () => {
    const before = tree();
    const none = await request(h.app).post(api('/auth-files')).set(auth).send('{}');
    expect(none.status).toBe(400);
    expect(none.body).toEqual({ error: 'invalid name' });
    const txt = await request(h.app).post(api('/auth-files?name=acc1.txt')).set(auth).send('{}');
    expect(txt.status).toBe(400);
    expect(txt.body).toEqual({ error: 'name must end with .json' });
    expect(tree()).toEqual(before);
  });

  it.each(TRAVERSALS)(
    'raw body: 400 invalid name, nothing written anywhere: %s',
    async (_what, raw) => {
      put('acc1.json');
      oddEntries();
      const before = tree();
      const res = await request(h.app)
        .post(api(`/auth-files?name=${query(raw)}`))
        .set(auth)
        .send('{"pwned":true}');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid name' });
      expect(tree()).toEqual(before);
    },
  );

  it.each([
    ['../outside.json'],
    ['..\\outside.json'],
    ['..%2Foutside.json'],
    ['x.json/inner.json'],
    ['/etc/cpm-test.json'],
    ['C:\\Users\\me\\acc1.json'],
    ['.hidden.json'],
    ['a\tb.json'],
    [`${'a'.repeat(251)}.json`],
  ])('multipart file name %j: 400 invalid name, nothing written anywhere', async (filename) => {
    put('acc1.json');
    oddEntries();
    const before = tree();
    const { type, body } = multipart([{ name: 'file', filename, content: '{"pwned":true}' }]);
    const res = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .set('Content-Type', type)
      .send(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid name' });
    expect(tree()).toEqual(before);
    expect(existsSync('/etc/cpm-test.json')).toBe(false);
  });

  it('a hand-made multipart body with a plain name works (the builder above is sound)', async () => {
    const { type, body } = multipart([{ name: 'file', filename: 'hand.json', content: '{"h":1}' }]);
    const res = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .set('Content-Type', type)
      .send(body);
    expect(res.status).toBe(200);
    expect(readFileSync(inDir('hand.json'), 'utf8')).toBe('{"h":1}');
  });

  it('409 not a regular file: a symlink or folder under that name is never replaced or written through', async () => {
    put('acc1.json');
    oddEntries();
    const before = tree();
    for (const req of [
      request(h.app)
        .post(api('/auth-files?name=y.json'))
        .set(auth)
        .type('form')
        .send('{"pwned":true}'),
      request(h.app)
        .post(api('/auth-files'))
        .set(auth)
        .attach('file', Buffer.from('{"pwned":true}'), 'y.json'),
      request(h.app).post(api('/auth-files?name=x.json')).set(auth).send('{"pwned":true}'),
    ]) {
      const res = await req;
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ error: 'not a regular file' });
    }
    expect(tree()).toEqual(before);
    expect(lstatSync(inDir('y.json')).isSymbolicLink()).toBe(true);
    expect(readFileSync(outside, 'utf8')).toBe(SECRET);
  });

  it('500 failed to write file when authDir is not a folder, nothing else touched', async () => {
    writeFileSync(h.authDir, 'not a folder');
    const before = tree();
    const res = await request(h.app).post(api('/auth-files?name=acc1.json')).set(auth).send('{}');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'failed to write file: EEXIST' });
    expect(tree()).toEqual(before);
  });

  it('concurrent uploads of one name: all succeed, the file is one of them whole, no temp file left', async () => {
    const bodies = Array.from({ length: 8 }, (_, i) =>
      JSON.stringify({ n: i, pad: 'p'.repeat(100) }),
    );
    const results = await Promise.all(
      bodies.map((b) => request(h.app).post(api('/auth-files?name=same.json')).set(auth).send(b)),
    );
    expect(results.map((r) => r.status)).toEqual(bodies.map(() => 200));
    expect(bodies).toContain(readFileSync(inDir('same.json'), 'utf8'));
    expect(readdirSync(h.authDir)).toEqual(['same.json']);
  });

  it('405 with Allow for other methods', async () => {
    const res = await request(h.app).put(api('/auth-files')).set(auth).send('{}');
    expect(res.status).toBe(405);
    expect(res.body).toEqual({ error: 'method not allowed' });
    expect(res.headers.allow).toBe('GET, HEAD, POST, DELETE');
    const dl = await request(h.app)
      .post(api('/auth-files/download?name=a.json'))
      .set(auth)
      .send('{}');
    expect(dl.status).toBe(405);
    expect(dl.headers.allow).toBe('GET, HEAD');
  });
});

describe('DELETE /auth-files', () => {
  it('?name= removes the file', async () => {
    put('acc1.json');
    put('acc2.json');
    const res = await request(h.app).delete(api('/auth-files?name=acc1.json')).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(readdirSync(h.authDir)).toEqual(['acc2.json']);
  });

  it.each([
    ['a missing file', 'nope.json'],
    ['a symlink (neither it nor its target is deleted)', 'y.json'],
    ['a folder named like a file', 'x.json'],
  ])('404 file not found for %s', async (_what, name) => {
    put('acc1.json');
    oddEntries();
    const before = tree();
    const res = await request(h.app)
      .delete(api(`/auth-files?name=${name}`))
      .set(auth);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'file not found' });
    expect(tree()).toEqual(before);
  });

  it('400 invalid name without name or all, or with an unknown all value', async () => {
    put('acc1.json');
    const before = tree();
    for (const url of [
      '/auth-files',
      '/auth-files?all=false',
      '/auth-files?all=yes',
      '/auth-files?all=TRUE',
      '/auth-files?name=',
    ]) {
      const res = await request(h.app).delete(api(url)).set(auth);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid name' });
    }
    expect(tree()).toEqual(before);
  });

  it('400 name must end with .json', async () => {
    put('notes.txt', 'hello');
    const before = tree();
    const res = await request(h.app).delete(api('/auth-files?name=notes.txt')).set(auth);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'name must end with .json' });
    expect(tree()).toEqual(before);
  });

  it.each(TRAVERSALS)('400 invalid name, nothing deleted: %s', async (_what, raw) => {
    put('acc1.json');
    oddEntries();
    const before = tree();
    const res = await request(h.app)
      .delete(api(`/auth-files?name=${query(raw)}`))
      .set(auth);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid name' });
    expect(tree()).toEqual(before);
  });

  it.each(['true', '1', '*'])(
    '?all=%s deletes regular .json files only and counts them',
    async (all) => {
      put('a.json');
      put('B.JSON');
      put('notes.txt', 'hello');
      oddEntries();
      const res = await request(h.app)
        .delete(api(`/auth-files?all=${encodeURIComponent(all)}`))
        .set(auth);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok', deleted: 2 });
      expect(readdirSync(h.authDir).sort()).toEqual(['notes.txt', 'x.json', 'y.json']);
      expect(readdirSync(inDir('x.json'))).toEqual(['inner.json']);
      expect(readlinkSync(inDir('y.json'))).toBe(outside);
      expect(readFileSync(outside, 'utf8')).toBe(SECRET);
    },
  );

  it('?all=true on a missing folder deletes 0', async () => {
    const res = await request(h.app).delete(api('/auth-files?all=true')).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', deleted: 0 });
  });

  it('concurrent delete-alls count each file once between them', async () => {
    for (let i = 0; i < 12; i++) put(`f${i}.json`);
    const [a, b] = await Promise.all([
      request(h.app).delete(api('/auth-files?all=1')).set(auth),
      request(h.app).delete(api('/auth-files?all=1')).set(auth),
    ]);
    expect([a?.status, b?.status]).toEqual([200, 200]);
    expect((a?.body.deleted as number) + (b?.body.deleted as number)).toBe(12);
    expect(readdirSync(h.authDir)).toEqual([]);
  });
});

describe('construction', () => {
  it('throws ERR_INVALID_OPTION when authDir exists and is not a folder', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cpm-files-'));
    try {
      const cfg = path.join(dir, 'config.yaml');
      writeFileSync(cfg, 'debug: false\n');
      const file = path.join(dir, 'auths');
      writeFileSync(file, 'x');
      let thrown: unknown;
      try {
        createManagementRouter(cfg, file, { watch: false });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ManagementError);
      expect((thrown as ManagementError).code).toBe('ERR_INVALID_OPTION');
      expect((thrown as Error).message).toContain('authDir is not a folder');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not create a missing authDir before the first upload', () => {
    expect(existsSync(h.authDir)).toBe(false);
  });
});

describe('atomicWrite (as auth files use it)', () => {
  it('keepMode false gives the new file newFileMode; the default keeps a regular file’s mode', async () => {
    mkdirSync(h.authDir);
    const file = put('m.json', '{}', 0o640);
    chmodSync(file, 0o640);
    await atomicWrite(file, '{"a":1}');
    expect(statSync(file).mode & 0o777).toBe(0o640);
    await atomicWrite(file, '{"a":2}', 0o600, { keepMode: false });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('{"a":2}');
  });

  it('never takes a mode from, or writes through, a symlink at the target', async () => {
    mkdirSync(h.authDir);
    chmodSync(outside, 0o644);
    const link = inDir('l.json');
    symlinkSync(outside, link);
    await atomicWrite(link, '{"new":1}');
    expect(lstatSync(link).isFile()).toBe(true);
    expect(statSync(link).mode & 0o777).toBe(0o600);
    expect(readFileSync(outside, 'utf8')).toBe(SECRET);
  });
});

describe('under an Express 4 host', () => {
  it('uploads (multipart and raw), lists, downloads and deletes', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const express4 = require('express4') as typeof import('express');
    const app = express4();
    app.use('/v0/management', h.router);
    const form = await request(app)
      .post(api('/auth-files'))
      .set(auth)
      .attach('file', Buffer.from('{"a":1}'), 'a b@c+d.json');
    expect(form.status).toBe(200);
    const raw = await request(app)
      .post(api('/auth-files?name=r.json'))
      .set(auth)
      .type('form')
      .send('{"r":1}');
    expect(raw.status).toBe(200);
    const list = await request(app).get(api('/auth-files')).set(auth);
    expect(list.body.files.map((f: { name: string }) => f.name)).toEqual([
      'a b@c+d.json',
      'r.json',
    ]);
    const dl = await request(app)
      .get(api(`/auth-files/download?name=${encodeURIComponent('a b@c+d.json')}`))
      .set(auth);
    expect(dl.status).toBe(200);
    expect(dl.headers['content-type']).toBe('application/json');
    expect(dl.headers['content-disposition']).toBe('attachment; filename="a b@c+d.json"');
    expect(dl.text).toBe('{"a":1}');
    const big = await request(app)
      .post(api('/auth-files'))
      .set(auth)
      .attach('file', Buffer.alloc(1024, 0x20), 'big.json');
    expect(big.status).toBe(413);
    expect(big.body).toEqual({ error: 'request body too large' });
    const del = await request(app).delete(api('/auth-files?all=*')).set(auth);
    expect(del.body).toEqual({ status: 'ok', deleted: 2 });
  });
});

describe('HEAD /auth-files/download', () => {
  it('answers the headers without a body', async () => {
    put('acc1.json', ACC);
    const res = await request(h.app).head(api('/auth-files/download?name=acc1.json')).set(auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(ACC)));
    expect(res.headers['content-disposition']).toBe('attachment; filename="acc1.json"');
    expect(res.text ?? '').toBe('');
  });
});

describe('more upload limits', () => {
  it('413 too many files over uploadMaxFiles (files of any field count), 400 invalid body for too many fields, 413 for a huge text field; nothing written', async () => {
    const before = tree();
    let many = request(h.app).post(api('/auth-files')).set(auth);
    for (let i = 0; i < 51; i++) many = many.attach(`f${i}`, Buffer.from('{}'), `f${i}.json`);
    const files = await many;
    expect(files.status).toBe(413);
    expect(files.body).toEqual({ error: 'too many files' });
    let fieldsReq = request(h.app).post(api('/auth-files')).set(auth);
    for (let i = 0; i < 17; i++) fieldsReq = fieldsReq.field(`k${i}`, 'v');
    const fields = await fieldsReq.attach('file', Buffer.from('{}'), 'a.json');
    expect(fields.status).toBe(400);
    expect(fields.body).toEqual({ error: 'invalid body', details: 'Too many fields' });
    const huge = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .field('note', 'n'.repeat(64 * 1024 + 1))
      .attach('file', Buffer.from('{}'), 'a.json');
    expect(huge.status).toBe(413);
    expect(huge.body).toEqual({ error: 'request body too large' });
    expect(tree()).toEqual(before);
  });
});

describe('server-side failures', () => {
  it('500 with the error code when authDir turned into a symlink loop', async () => {
    symlinkSync(h.authDir, h.authDir);
    const before = tree();
    const cases: [request.Test, string][] = [
      [request(h.app).get(api('/auth-files')).set(auth), 'failed to list files: ELOOP'],
      [request(h.app).delete(api('/auth-files?all=true')).set(auth), 'failed to list files: ELOOP'],
      [
        request(h.app).get(api('/auth-files/download?name=a.json')).set(auth),
        'failed to read file: ELOOP',
      ],
      [
        request(h.app).delete(api('/auth-files?name=a.json')).set(auth),
        'failed to read file: ELOOP',
      ],
      [
        request(h.app).post(api('/auth-files?name=a.json')).set(auth).send('{}'),
        'failed to write file: ELOOP',
      ],
    ];
    for (const [req, error] of cases) {
      const res = await req;
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error });
    }
    expect(tree()).toEqual(before);
  });

  it('500 failed to delete file / failed to write file when the folder refuses changes (immutable, so for root too)', async () => {
    put('keep.json', ACC);
    const before = tree();
    const undo = immutable(h.authDir);
    try {
      const del = await request(h.app).delete(api('/auth-files?name=keep.json')).set(auth);
      expect({ status: del.status, body: del.body }).toEqual({
        status: 500,
        body: { error: expect.stringMatching(/^failed to delete file: (EPERM|EACCES)$/) },
      });
      const all = await request(h.app).delete(api('/auth-files?all=true')).set(auth);
      expect({ status: all.status, body: all.body }).toEqual({
        status: 500,
        body: { error: expect.stringMatching(/^failed to delete file: (EPERM|EACCES)$/) },
      });
      const up = await request(h.app)
        .post(api('/auth-files?name=new.json'))
        .set(auth)
        .send('{"a":1}');
      expect({ status: up.status, body: up.body }).toEqual({
        status: 500,
        body: { error: expect.stringMatching(/^failed to write file: (EPERM|EACCES)$/) },
      });
    } finally {
      undo();
    }
    expect(tree()).toEqual(before);
  });
});

/** Make a folder refuse new and removed entries: `chattr +i` as root (mode bits do not stop root), else mode 0555. */
function immutable(dir: string): () => void {
  if (process.getuid?.() === 0) {
    execFileSync('chattr', ['+i', dir]);
    return () => execFileSync('chattr', ['-i', dir]);
  }
  chmodSync(dir, 0o555);
  return () => chmodSync(dir, 0o755);
}

describe('authDir with ~', () => {
  // The expansion itself; a real upload under the real home folder would leave files there.
  it('is expanded to the home folder and resolved', () => {
    expect(resolveSettings('config.yaml', '~/.cli-proxy-api').authDir).toBe(
      path.join(homedir(), '.cli-proxy-api'),
    );
    expect(resolveSettings('config.yaml', '~').authDir).toBe(homedir());
    expect(resolveSettings('config.yaml', 'rel/auths').authDir).toBe(path.resolve('rel/auths'));
  });
});

describe('temp files of a crashed upload', () => {
  it('are removed at construction when their process is gone; live ones, users’ files and symlinks stay', async () => {
    const dead = '.acc1.json.cpm-999999999-abcdef.tmp';
    const live = `.acc2.json.cpm-${process.pid}-abcdef.tmp`;
    put(dead, '{"half":');
    put(live, '{}');
    put('.acc1.json.tmp', 'user');
    put('acc1.json', ACC);
    symlinkSync(outside, inDir('.y.json.cpm-999999999-abc.tmp'));
    const router = createManagementRouter(h.configPath, h.authDir, { watch: false });
    try {
      await eventually(() => !existsSync(inDir(dead)));
      expect(readdirSync(h.authDir).sort()).toEqual(
        ['.acc1.json.tmp', live, '.y.json.cpm-999999999-abc.tmp', 'acc1.json'].sort(),
      );
      expect(readFileSync(outside, 'utf8')).toBe(SECRET);
    } finally {
      await router.close();
    }
  });
});

describe('tokenFileName at the HTTP layer (the rule itself: token-name.test.ts)', () => {
  it('a good name without the ending is NAME_NOT_JSON; the HTTP layer picks the message', () => {
    expect(() => authFileName('acc1.txt')).toThrow(
      expect.objectContaining({ status: 400, error: 'name must end with .json' }),
    );
    expect(() => authFileName('acc1', 'file must be .json')).toThrow(
      expect.objectContaining({ status: 400, error: 'file must be .json' }),
    );
    expect(() => authFileName('acc1.json ')).toThrow(
      expect.objectContaining({ name: 'StoreError', code: 'INVALID_NAME' }),
    );
  });
});

describe('contentDisposition', () => {
  it.each([
    ['acc1.json', 'attachment; filename="acc1.json"'],
    ['a b@c+d.json', 'attachment; filename="a b@c+d.json"'],
    ['é.json', `attachment; filename="?.json"; filename*=UTF-8''%C3%A9.json`],
    ['東京.json', `attachment; filename="??.json"; filename*=UTF-8''%E6%9D%B1%E4%BA%AC.json`],
  ])('%j', (name, header) => {
    expect(contentDisposition(name)).toBe(header);
  });
});
