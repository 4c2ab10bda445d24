import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { WorkerArgs, WorkerMessage } from './fixtures/worker-host';

const SCRIPT = path.join(__dirname, 'fixtures', 'worker-host.ts');

/** A forked host process running `fixtures/worker-host.ts` (TypeScript through tsx). */
export interface Worker {
  readonly child: ChildProcess;
  readonly port: number;
  readonly pid: number;
  readonly exited: Promise<NodeJS.Signals | number | null>;
}

/** Every worker forked and not yet exited, ready or not: {@link killAll} ends them when a test file ends. */
const live = new Set<ChildProcess>();

/** SIGKILL every worker still running (started or starting) and wait until they are gone. */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** Fork a worker host and wait for its `ready` message; `onMessage` sees every message. */
export function startWorker(
  args: WorkerArgs,
  onMessage: (m: WorkerMessage) => void = () => undefined,
): Promise<Worker> {
  const child = fork(SCRIPT, [JSON.stringify(args)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.add(child);
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve(signal ?? code);
    });
  });
  return new Promise((resolve, reject) => {
    child.on('message', (raw) => {
      const m = raw as WorkerMessage;
      if (m.type === 'ready') resolve({ child, port: m.port, pid: m.pid, exited });
      onMessage(m);
    });
    void exited.then((how) =>
      reject(new Error(`worker exited before it was ready (${String(how)})`)),
    );
  });
}

/** Ask a worker to close its server and router and exit; resolves with its exit code. */
export async function stopWorker(w: Worker): Promise<NodeJS.Signals | number | null> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.send('stop');
  return w.exited;
}
