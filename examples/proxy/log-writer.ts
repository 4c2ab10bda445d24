/**
 * Writes the proxy's logs in the Go server's layout, which `fileLogs(dir)` reads back for the
 * panel: `main.log` (rotated to `main-<time>.log` past `maxBytes`), one request log per request
 * when `request-log` is on (`v1-chat-completions-<time>-<id>.log`), and `error-*.log` for a
 * failed request when it is off.
 */
import { appendFileSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const pad = (n: number): string => String(n).padStart(2, '0');

/** `YYYY-MM-DD HH:MM:SS` in the server's time zone (the stamp the panel parses). */
export function stamp(d = new Date()): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The log folder's writer. */
export class LogWriter {
  constructor(
    readonly dir: string,
    readonly maxBytes = 10 * 1024 * 1024,
  ) {}

  /** One line of `main.log`: `[time] [request id] [level] [proxy] text`. */
  line(requestId: string, level: 'info' | 'warn' | 'error', text: string): void {
    mkdirSync(this.dir, { recursive: true });
    const file = path.join(this.dir, 'main.log');
    try {
      if (statSync(file).size > this.maxBytes) {
        const now = new Date();
        renameSync(
          file,
          path.join(this.dir, `main-${stamp(now).replace(' ', 'T').replaceAll(':', '-')}.log`),
        );
      }
    } catch {
      // no main.log yet
    }
    appendFileSync(file, `[${stamp()}] [${requestId}] [${level.padEnd(5)}] [proxy] ${text}\n`);
  }

  /** A request log (`error-` prefixed for a failed request logged only because it failed). */
  request(requestId: string, urlPath: string, content: string, error: boolean): string {
    mkdirSync(this.dir, { recursive: true });
    const now = new Date();
    const time = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}T${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
    const base = urlPath.replace(/^\//, '').replace(/[^A-Za-z0-9]+/g, '-');
    const name = `${error ? 'error-' : ''}${base}-${time}-${requestId}.log`;
    writeFileSync(path.join(this.dir, name), content);
    return name;
  }
}
