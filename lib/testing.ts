import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A config file and an auth folder in a fresh temporary folder, made by {@link createTempConfig}. */
export interface TempConfig {
  /** The temporary folder holding both. */
  readonly dir: string;
  /** `<dir>/config.yaml`, mode 0600, holding the text given to {@link createTempConfig}. */
  readonly configPath: string;
  /** `<dir>/auths`, an empty folder (mode 0700) for the JSON token files. */
  readonly authDir: string;
  /** Delete the folder and everything in it. Call `await router.close()` first. */
  cleanup(): void;
}

/**
 * Make a throw-away config for testing a host app with the router mounted, so a test never
 * touches the real config: a new folder under the OS temp folder with `config.yaml` (holding
 * `text`, default empty) and an empty `auths` folder.
 *
 * The management API stays disabled until the config holds a key: put a plaintext
 * `remote-management.secret-key` in `text` (the router replaces it with its bcrypt hash at
 * start; pass `bcryptRounds: 4` to keep that fast) and send that key in the tests.
 *
 * @param text - The YAML text of the config file. Default: `''` (an empty config).
 * @example
 * ```ts
 * const tmp = createTempConfig('remote-management:\n  secret-key: "test-key"\napi-keys: ["k1"]\n');
 * const management = createManagementRouter(tmp.configPath, tmp.authDir, { bcryptRounds: 4, watch: false });
 * // ... mount it, test with supertest ...
 * await management.close();
 * tmp.cleanup();
 * ```
 */
export function createTempConfig(text = ''): TempConfig {
  const dir = mkdtempSync(path.join(tmpdir(), 'cli-proxy-management-'));
  const configPath = path.join(dir, 'config.yaml');
  const authDir = path.join(dir, 'auths');
  writeFileSync(configPath, text, { mode: 0o600 });
  mkdirSync(authDir, { mode: 0o700 });
  return {
    dir,
    configPath,
    authDir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
