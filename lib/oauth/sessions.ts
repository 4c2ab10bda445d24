import type { OAuthSession, OAuthSessionStatus, OAuthSessionStore } from './types';

/** Options of {@link MemoryOAuthSessionStore}. */
export interface MemoryOAuthSessionStoreOptions {
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/**
 * The default {@link OAuthSessionStore}: sessions in this process's memory, each forgotten once
 * its `expiresAt` has passed (swept at every `create`).
 */
export class MemoryOAuthSessionStore implements OAuthSessionStore {
  private readonly sessions = new Map<string, OAuthSession>();
  private readonly now: () => number;

  constructor(options: MemoryOAuthSessionStoreOptions = {}) {
    this.now = options.now ?? ((): number => Date.now());
  }

  create(state: string, session: OAuthSession, maxPending: number, now: number): boolean {
    this.sweep();
    let pending = 0;
    for (const s of this.sessions.values())
      if (s.status === 'pending' && s.deadline > now) pending++;
    if (pending >= maxPending || this.sessions.has(state)) return false;
    this.sessions.set(state, session);
    return true;
  }

  get(state: string): OAuthSession | undefined {
    const session = this.sessions.get(state);
    if (session && session.expiresAt <= this.now()) {
      this.sessions.delete(state);
      return undefined;
    }
    return session;
  }

  update(state: string, from: readonly OAuthSessionStatus[], next: OAuthSession): boolean {
    const session = this.get(state);
    if (!session || !from.includes(session.status)) return false;
    this.sessions.set(state, next);
    return true;
  }

  delete(state: string, from: readonly OAuthSessionStatus[]): boolean {
    const session = this.get(state);
    if (!session || !from.includes(session.status)) return false;
    return this.sessions.delete(state);
  }

  /** Number of sessions held, expired ones not yet swept included (for tests and metrics). */
  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [state, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(state);
  }
}

/** Where a login stands as `GET /get-auth-status` answers it. */
export type SessionView =
  | { readonly status: 'wait' }
  | { readonly status: 'ok'; readonly file: string }
  | { readonly status: 'error'; readonly error: string };

/** The message of a login that waited past its deadline. */
export const TIMEOUT_MESSAGE = 'Timeout waiting for OAuth callback';

/**
 * A session as the poll sees it at `now`: a pending or exchanging one past its deadline has
 * timed out; a finished one past its deadline (or an unknown state) is `undefined`.
 */
export function viewSession(
  session: OAuthSession | undefined,
  now: number,
): SessionView | undefined {
  if (!session) return undefined;
  if (session.status === 'pending' || session.status === 'exchanging') {
    return session.deadline > now
      ? { status: 'wait' }
      : { status: 'error', error: TIMEOUT_MESSAGE };
  }
  if (session.deadline <= now) return undefined;
  return session.status === 'ok'
    ? { status: 'ok', file: session.result ?? '' }
    : { status: 'error', error: session.result ?? 'Authentication failed' };
}

/** Whether a pending or exchanging session is still live (not timed out) at `now`. */
export const isLive = (session: OAuthSession | undefined, now: number): session is OAuthSession =>
  session !== undefined &&
  (session.status === 'pending' || session.status === 'exchanging') &&
  session.deadline > now;
