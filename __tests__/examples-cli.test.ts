/**
 * The examples run from the command line as their doc comments say (`npm start`,
 * `npx tsx examples/<name>/index.ts`): with no CONFIG they use the demo's config instead of
 * crashing with ERR_CONFIG_NOT_FOUND, they print where they listen, and a port in use is an
 * error that names `PORT=` and exits with status 1 (not "listening" and status 0).
 *
 * Real child processes (tsx), real ports, a temp DEMO_DATA folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { banner } from '../examples/demo';
import { eventually } from './helpers';

jest.setTimeout(60_000);

const ROOT = path.join(__dirname, '..');

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function run(script: string, env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, CONFIG: '', AUTH_DIR: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, out: () => out, err: () => err, exited };
}

/** Wait (bounded) until the child's stdout matches `re`; fails with what it printed. */
async function waitFor(r: Run, re: RegExp, ms = 45_000): Promise<RegExpExecArray> {
  const end = Date.now() + ms;
  for (;;) {
    const m = re.exec(r.out());
    if (m) return m;
    if (r.child.exitCode !== null || Date.now() > end) {
      throw new Error(`no ${re} in the output (exit ${r.child.exitCode}):\n${r.out()}\n${r.err()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let dir: string;
let running: Run[] = [];
let holder: Server | undefined;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-examples-cli-'));
  running = [];
});

afterEach(async () => {
  for (const r of running)
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  await Promise.all(running.map((r) => r.exited));
  if (holder) await new Promise((resolve) => holder?.close(resolve));
  holder = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A port held by another server, as when a second demo is started. */
async function takenPort(): Promise<number> {
  holder = createServer();
  await new Promise<void>((resolve) => holder?.listen(0, '127.0.0.1', resolve));
  return (holder.address() as { port: number }).port;
}

describe('examples run as documented, without CONFIG', () => {
  const cases: [string, string][] = [
    ['examples/demo/index.ts', '/v0/management'],
    ['examples/proxy/index.ts', '/v0/management'],
    ['examples/prefix/index.ts', '/admin/api'],
    ['examples/testing/app.ts', '/v0/management'],
  ];
  it.each(cases)(
    '%s creates the demo config, prints its key once and serves it',
    async (script, prefix) => {
      const r = run(script, { DEMO_DATA: dir, PORT: '0' });
      running.push(r);
      const [, key] = await waitFor(r, /management key \(shown once[^\n]*\n\s+(\S+)/);
      const [, origin] = await waitFor(r, /(http:\/\/127\.0\.0\.1:\d+)\/(?:v0|admin)/);
      const res = await fetch(`${origin}${prefix}/debug`, {
        headers: { Authorization: `Bearer ${key}` },
      });
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 200,
        body: { debug: false },
      });
      // The key is stored only as its hash (written back at start, maybe just after the GET).
      const secret = () =>
        parse(readFileSync(path.join(dir, 'config.yaml'), 'utf8'))['remote-management'][
          'secret-key'
        ] as string;
      await eventually(() => /^\$2[aby]\$/.test(secret()), 20_000);
      expect(readFileSync(path.join(dir, 'config.yaml'), 'utf8')).not.toContain(key as string);
      r.child.kill('SIGTERM');
      expect(await r.exited).toBe(0);
      expect(r.err()).not.toContain('ERR_CONFIG_NOT_FOUND');
    },
  );

  it('the demo prints the web panel URL first', async () => {
    const r = run('examples/demo/index.ts', { DEMO_DATA: dir, PORT: '0' });
    running.push(r);
    const [, origin] = await waitFor(
      r,
      /^web panel: (http:\/\/127\.0\.0\.1:\d+)\/v0\/management\/panel\//,
    );
    expect(r.out().split('\n')[0]).toBe(`web panel: ${origin}/v0/management/panel/`);
    const page = await fetch(`${origin}/v0/management/panel/`);
    expect(page.status).toBe(200);
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
  });

  it('banner(): the panel line comes first, then the API, the key and curl lines', () => {
    const lines = banner('http://h:1/v0/management', 'k3y').split('\n');
    expect(lines[0]).toBe('web panel: http://h:1/v0/management/panel/');
    expect(lines[1]).toBe('Management API: http://h:1/v0/management');
    expect(lines).toContain('  k3y');
    expect(lines.filter((l) => l.includes('curl') && l.includes('Bearer k3y'))).toHaveLength(2);
    expect(banner('http://h:1/v0/management', undefined)).toContain('<your key>');
  });
});

describe('a port in use', () => {
  it('npm start: the demo prints the error, suggests PORT=, and exits 1 without saying it listens', async () => {
    const port = await takenPort();
    const r = run('examples/demo/index.ts', { DEMO_DATA: dir, PORT: String(port) });
    running.push(r);
    expect(await r.exited).toBe(1);
    expect(r.err()).toContain(`port ${port} on 127.0.0.1 is already in use`);
    expect(r.err()).toContain(`PORT=${port + 1} npm start`);
    expect(r.out()).not.toMatch(/web panel|listening|management key/);
  });

  it('an example run with npx tsx says the same, with its own command', async () => {
    const port = await takenPort();
    const r = run('examples/prefix/index.ts', { DEMO_DATA: dir, PORT: String(port) });
    running.push(r);
    expect(await r.exited).toBe(1);
    expect(r.err()).toContain(`PORT=${port + 1} npx tsx examples/prefix/index.ts`);
  });
});

describe('CONFIG', () => {
  it('still wins over the demo config', async () => {
    const r = run('examples/testing/app.ts', {
      DEMO_DATA: dir,
      PORT: '0',
      CONFIG: path.join(dir, 'missing.yaml'),
    });
    running.push(r);
    expect(await r.exited).not.toBe(0);
    expect(r.err()).toContain('ERR_CONFIG_NOT_FOUND');
    expect(existsSync(path.join(dir, 'config.yaml'))).toBe(false);
  });
});

/** A port free right now (for a run that must be told one). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise((resolve) => s.close(resolve));
  return port;
}

const listening = (origin: string): Promise<boolean> =>
  fetch(origin).then(
    (r) => r.arrayBuffer().then(() => true),
    () => false,
  );

describe('the demo as `npm start` runs it', () => {
  it('kill <pid of npm start> (SIGTERM to npm only) stops the demo: its port closes', async () => {
    const child = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: { ...process.env, DEMO_DATA: dir, PORT: '0', CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    running.push({ child, out: () => out, err: () => out, exited: exited.then(() => null) });
    await eventually(() => /^web panel: http:\/\/127\.0\.0\.1:\d+/m.test(out), 100_000);
    const origin = /^web panel: (http:\/\/127\.0\.0\.1:\d+)/m.exec(out)?.[1] as string;
    expect(await listening(origin)).toBe(true);
    child.kill('SIGTERM'); // npm's pid, as `kill <pid>` from a shell
    await exited;
    await eventually(async () => !(await listening(origin)), 20_000);
  }, 150_000);

  it('prints no "config changed" for its own start-up hashing; a PUT prints "config changed (api)"', async () => {
    const r = run('examples/demo/index.ts', { DEMO_DATA: dir, PORT: '0' });
    running.push(r);
    const [, key] = await waitFor(r, /management key \(shown once[^\n]*\n\s+(\S+)/);
    const [, origin] = await waitFor(r, /(http:\/\/127\.0\.0\.1:\d+)\/v0/);
    const secret = () =>
      parse(readFileSync(path.join(dir, 'config.yaml'), 'utf8'))['remote-management'][
        'secret-key'
      ] as string;
    await eventually(() => /^\$2[aby]\$/.test(secret()), 20_000);
    const res = await fetch(`${origin}/v0/management/debug`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${key}` },
      body: '{"value":true}',
    });
    expect(res.status).toBe(200);
    await waitFor(r, /config changed \(api\)/);
    expect(r.out().match(/config changed/g)).toEqual(['config changed']);
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
  });

  it("its config's port is where it listens: PORT is recorded in the port: line, a run without PORT listens there", async () => {
    const config = (): string => readFileSync(path.join(dir, 'config.yaml'), 'utf8');
    const start = async (env: Record<string, string>): Promise<string> => {
      const r = run('examples/demo/index.ts', { DEMO_DATA: dir, ...env });
      running.push(r);
      const [, origin] = await waitFor(r, /^web panel: (http:\/\/127\.0\.0\.1:\d+)/m);
      r.child.kill('SIGTERM');
      expect({
        exit: await r.exited,
        signal: r.child.signalCode,
        out: r.out(),
        err: r.err(),
      }).toEqual({ exit: 0, signal: null, out: expect.any(String), err: '' });
      return origin as string;
    };
    const first = await freePort();
    expect(await start({ PORT: String(first) })).toBe(`http://127.0.0.1:${first}`);
    expect(config()).toMatch(new RegExp(`^port: ${first}$`, 'm'));
    const created = config();
    // No PORT: the config's port.
    expect(await start({ PORT: '' })).toBe(`http://127.0.0.1:${first}`);
    // Another PORT: recorded, and only that line changed.
    const second = await freePort();
    expect(await start({ PORT: String(second) })).toBe(`http://127.0.0.1:${second}`);
    const lines = (t: string): string[] =>
      t.split('\n').filter((l) => !l.startsWith('port:') && !l.includes('secret-key'));
    expect(config()).toMatch(new RegExp(`^port: ${second}$`, 'm'));
    expect(lines(config())).toEqual(lines(created));
  }, 180_000);
});
