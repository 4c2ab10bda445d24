// A third storage engine, written against the documented interfaces only (lib/engines/README.md):
// the config text and the token files in one process's memory, shared by two routers as if they
// were replicas. It stores text and bytes; the core does the rest (parse, group commit, layout,
// key hashing), so the whole engine is the two small classes below.
import express from 'express';
import request from 'supertest';
import {
  createManagementRouter,
  StoreError,
  tokenFileName,
  type ConfigBackend,
  type ManagementRouter,
  type SaveResult,
  type Storage,
  type StoredText,
  type TextEvents,
  type TokenFile,
  type TokenFileInfo,
  type TokenStore,
} from '../lib';
import { api, auth, eventually, fixtureWith, KEY } from './helpers';

/** What the replicas share: the text with its version, and the token files. */
interface Shared {
  text: string;
  version: number;
  saves: number;
  conflicts: number;
  readonly replicas: Set<TextEvents>;
  readonly files: Map<string, { data: Buffer; modtime: Date }>;
}

class MemoryText implements ConfigBackend {
  private events: TextEvents | undefined;
  constructor(private readonly shared: Shared) {}
  get initial(): StoredText & { cached: boolean } {
    return { text: this.shared.text, version: this.shared.version, cached: false };
  }
  async start(events: TextEvents): Promise<void> {
    this.events = events;
    this.shared.replicas.add(events);
  }
  async load(): Promise<StoredText> {
    return { text: this.shared.text, version: this.shared.version };
  }
  async save(text: string, expected: number): Promise<SaveResult> {
    await new Promise((resolve) => setImmediate(resolve)); // an I/O turn, as a real store has
    if (expected !== this.shared.version) {
      this.shared.conflicts++;
      return { saved: false };
    }
    this.shared.text = text;
    this.shared.version++;
    this.shared.saves++;
    for (const other of this.shared.replicas)
      if (other !== this.events) void other.changed().catch(() => undefined);
    return { saved: true, version: this.shared.version };
  }
  async close(): Promise<void> {
    if (this.events) this.shared.replicas.delete(this.events);
  }
}

class MemoryTokens implements TokenStore {
  constructor(private readonly files: Shared['files']) {}
  private info(name: string): TokenFile | undefined {
    const file = this.files.get(name);
    return (
      file && { name, size: file.data.length, modtime: file.modtime, data: Buffer.from(file.data) }
    );
  }
  async list(): Promise<TokenFileInfo[]> {
    return (await this.readAll()).map(({ name, size, modtime }) => ({ name, size, modtime }));
  }
  async read(name: string): Promise<TokenFile | undefined> {
    return this.info(tokenFileName(name));
  }
  async readAll(): Promise<TokenFile[]> {
    return [...this.files.keys()].sort().map((name) => this.info(name) as TokenFile);
  }
  async write(name: string, data: Uint8Array): Promise<void> {
    this.files.set(tokenFileName(name), { data: Buffer.from(data), modtime: new Date() });
  }
  async update(name: string, edit: (data: Buffer) => Uint8Array): Promise<boolean> {
    const file = this.files.get(tokenFileName(name));
    if (!file) return false;
    this.files.set(name, { data: Buffer.from(edit(Buffer.from(file.data))), modtime: new Date() });
    return true;
  }
  async remove(name: string): Promise<boolean> {
    return this.files.delete(tokenFileName(name));
  }
  async removeAll(): Promise<number> {
    const n = this.files.size;
    this.files.clear();
    return n;
  }
  async close(): Promise<void> {}
}

function memoryStorage(shared: Shared): Storage {
  return {
    open: () => ({ config: new MemoryText(shared), tokens: new MemoryTokens(shared.files) }),
  };
}

let routers: ManagementRouter[] = [];
afterEach(async () => {
  await Promise.all(routers.map((r) => r.close()));
  routers = [];
});

function replicas(text: string): { shared: Shared; apps: express.Express[] } {
  const shared: Shared = {
    text,
    version: 1,
    saves: 0,
    conflicts: 0,
    replicas: new Set(),
    files: new Map(),
  };
  const apps = [0, 1].map(() => {
    const router = createManagementRouter('memory:config.yaml', '/nowhere', {
      storage: memoryStorage(shared),
      bcryptRounds: 4,
      logger: { warn: () => undefined },
    });
    routers.push(router);
    const app = express();
    app.use('/v0/management', router);
    return app;
  });
  return { shared, apps };
}

describe('an in-memory engine of two small classes', () => {
  it('serves the API; a write through one replica is read by the other; the layout is kept as by every engine', async () => {
    const { shared, apps } = replicas(fixtureWith());
    const [a, b] = apps as [express.Express, express.Express];
    await request(a).put(api('/debug')).set(auth).send({ value: true }).expect(200);
    expect(shared.text).toBe(
      fixtureWith().replace('debug: false   # flip me', 'debug: true # flip me'),
    );
    await eventually(
      async () => (await request(b).get(api('/debug')).set(auth)).body.debug === true,
    );
  });

  it('concurrent writes through both replicas: none is lost (the core retries a save whose version moved on)', async () => {
    const { shared, apps } = replicas(fixtureWith());
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request(apps[i % 2] as express.Express)
          .patch(api('/api-keys'))
          .set(auth)
          .send({ old: `nothing-${i}`, new: `key-${i}` })
          .expect(200),
      ),
    );
    for (let i = 0; i < 20; i++) expect(shared.text).toContain(`key-${i}`);
    expect(shared.conflicts).toBeGreaterThan(0); // the two replicas did race
  });

  it('a plaintext key reaches the engine only hashed; a bad upload reaches it not at all', async () => {
    const { shared, apps } = replicas(fixtureWith());
    const a = apps[0] as express.Express;
    const upload = fixtureWith('a-new-key-for-memory');
    await request(a)
      .put(api('/config.yaml'))
      .set(auth)
      .set('Content-Type', 'application/yaml')
      .send(upload)
      .expect(200);
    expect(shared.text).not.toContain('a-new-key-for-memory');
    expect(shared.text).toMatch(/secret-key: "\$2b\$04\$/);
    const saves = shared.saves;
    const bad = await request(a)
      .put(api('/config.yaml'))
      .set('Authorization', 'Bearer a-new-key-for-memory')
      .set('Content-Type', 'application/yaml')
      .send('debug: [\n');
    expect({ status: bad.status, body: bad.body }).toEqual({
      status: 400,
      body: { error: 'invalid_yaml', message: 'Bad indentation at line 2, column 1' },
    });
    expect(shared.saves).toBe(saves);
    await request(a).get(api('/debug')).set('Authorization', `Bearer ${KEY}`).expect(401);
  });

  it('token files go through its token store, with the one name rule', async () => {
    const { shared, apps } = replicas(fixtureWith());
    const [a, b] = apps as [express.Express, express.Express];
    await request(a)
      .post(api('/auth-files?name=one.json'))
      .set(auth)
      .send('{"type":"codex"}')
      .expect(200);
    const listed = await request(b).get(api('/auth-files')).set(auth).expect(200);
    expect(listed.body.files.map((f: { name: string }) => f.name)).toEqual(['one.json']);
    const refused = await request(a).post(api('/auth-files?name=..%2Fx.json')).set(auth).send('{}');
    expect(refused.status).toBe(400);
    expect([...shared.files.keys()]).toEqual(['one.json']);
    expect(() => tokenFileName('../x.json')).toThrow(StoreError);
  });
});
