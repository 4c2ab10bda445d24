import type { OAuthSession, OAuthSessionStatus, OAuthSessionStore } from '../../oauth/types';
import type { Db } from './db';

export interface PgOAuthSessionStoreOptions {
  readonly db: Db;
  readonly namespace: string;
  readonly now?: () => number;
}

interface Row {
  provider: string;
  flow: string;
  status: string;
  deadline: string;
  expires_at: string;
  result: string | null;
  secret: string | null;
}

const COLUMNS = 'provider, flow, status, deadline, expires_at, result, secret';

/**
 * Login sessions in the table `cpm_oauth_sessions`, shared by every replica of a namespace: a
 * login started on one replica can be polled, called back and completed through another. Every
 * call is one statement (no cache: a poll every few seconds is cheap), and the status changes
 * are compare-and-set, so two replicas never both take one callback. A pending code login's row
 * holds its PKCE verifier and redirect URI (`secret`) until the callback is accepted; expired
 * rows are deleted at the next start. While the database is down the calls fail (`503`).
 */
export class PgOAuthSessionStore implements OAuthSessionStore {
  private readonly now: () => number;

  constructor(private readonly options: PgOAuthSessionStoreOptions) {
    this.now = options.now ?? ((): number => Date.now());
  }

  private values(state: string, s: OAuthSession): unknown[] {
    return [
      this.options.namespace,
      state,
      s.provider,
      s.flow,
      s.status,
      s.deadline,
      s.expiresAt,
      s.result ?? null,
      s.secret ? JSON.stringify(s.secret) : null,
    ];
  }

  async create(
    state: string,
    session: OAuthSession,
    maxPending: number,
    now: number,
  ): Promise<boolean> {
    const { db, namespace } = this.options;
    await db.query('DELETE FROM cpm_oauth_sessions WHERE namespace = $1 AND expires_at <= $2', [
      namespace,
      now,
    ]);
    const { rowCount } = await db.query(
      `INSERT INTO cpm_oauth_sessions (namespace, state, ${COLUMNS})
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
       WHERE (SELECT count(*) FROM cpm_oauth_sessions WHERE namespace = $1 AND status = 'pending' AND deadline > $10) < $11
       ON CONFLICT (namespace, state) DO NOTHING`,
      [...this.values(state, session), now, maxPending],
    );
    return rowCount === 1;
  }

  async get(state: string): Promise<OAuthSession | undefined> {
    const { rows } = await this.options.db.query<Row>(
      `SELECT ${COLUMNS} FROM cpm_oauth_sessions WHERE namespace = $1 AND state = $2 AND expires_at > $3`,
      [this.options.namespace, state, this.now()],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      provider: r.provider,
      flow: r.flow as OAuthSession['flow'],
      status: r.status as OAuthSessionStatus,
      deadline: Number(r.deadline),
      expiresAt: Number(r.expires_at),
      ...(r.result !== null ? { result: r.result } : {}),
      ...(r.secret !== null ? { secret: JSON.parse(r.secret) as OAuthSession['secret'] } : {}),
    };
  }

  async update(
    state: string,
    from: readonly OAuthSessionStatus[],
    next: OAuthSession,
  ): Promise<boolean> {
    const v = this.values(state, next);
    const { rowCount } = await this.options.db.query(
      `UPDATE cpm_oauth_sessions SET provider = $3, flow = $4, status = $5, deadline = $6, expires_at = $7, result = $8, secret = $9
       WHERE namespace = $1 AND state = $2 AND status = ANY($10::text[]) AND expires_at > $11`,
      [...v, [...from], this.now()],
    );
    return rowCount === 1;
  }

  async delete(state: string, from: readonly OAuthSessionStatus[]): Promise<boolean> {
    const { rowCount } = await this.options.db.query(
      'DELETE FROM cpm_oauth_sessions WHERE namespace = $1 AND state = $2 AND status = ANY($3::text[]) AND expires_at > $4',
      [this.options.namespace, state, [...from], this.now()],
    );
    return rowCount === 1;
  }
}
