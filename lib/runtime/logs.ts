// GET/DELETE /logs and the error-log list: the query checked here, the lines from the host.
import type { Request } from 'express';
import { HttpError } from '../http/errors';
import { sendJson } from '../http/reply';
import { asBoolean } from '../config/typed';
import type { RuntimeContext } from './context';
import * as shape from './shapes';
import { ERROR_LOG_NAME } from './downloads';

/** Most lines `GET /logs` answers (the panel asks this many). */
export const MAX_LOG_LINES = 10_000;

/** `logging-to-file` off: the panel shows its "enable file logging" notice on this text. */
const disabled = (): HttpError => new HttpError(400, 'logging to file disabled');

function single(req: Request, name: string): string | undefined {
  const v: unknown = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : '\u0000'; // repeated or nested: not one value
}

/** `?limit=`: absent 10000; a positive decimal integer, above 10000 lowered to it. */
function limitOf(raw: string | undefined): number {
  if (raw === undefined) return MAX_LOG_LINES;
  const text = raw.trim();
  if (!/^\d{1,20}$/.test(text) || /^0+$/.test(text))
    throw new HttpError(400, 'invalid limit: must be a positive integer');
  return Math.min(Number(text), MAX_LOG_LINES);
}

/** The logs routes of the hooks given (`readLogs`, `clearLogs`, `listErrorLogs`). */
export function logsRoutes(rc: RuntimeContext): void {
  const { hooks } = rc.runtime;
  const { readLogs, clearLogs, listErrorLogs } = hooks;
  const loggingOn = (req: Request): boolean =>
    asBoolean(rc.runner.snapshot(req)['logging-to-file']).value;

  if (readLogs) {
    rc.add('/logs', 'GET', async (req, res) => {
      if (!loggingOn(req)) throw disabled();
      const limit = limitOf(single(req, 'limit'));
      const afterRaw = single(req, 'after')?.trim();
      const after =
        afterRaw !== undefined && /^\d{1,15}$/.test(afterRaw) && Number(afterRaw) > 0
          ? Number(afterRaw)
          : undefined;
      const cursorRaw = single(req, 'cursor');
      const cursor =
        cursorRaw !== undefined && shape.CURSOR.test(cursorRaw) ? cursorRaw : undefined;
      const query = {
        limit,
        ...(after !== undefined ? { after } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
      };
      const page = await rc.runner.call(
        'readLogs',
        req,
        res,
        (ctx) => readLogs(query, ctx),
        shape.logPage,
      );
      const lines =
        page.lines.length > limit ? page.lines.slice(page.lines.length - limit) : page.lines;
      const body: Record<string, unknown> = {
        lines,
        'line-count': page.lineCount >= 0 ? page.lineCount : lines.length,
        'latest-timestamp': page.latestTimestamp,
        'next-cursor': page.nextCursor,
      };
      if (page.cursorReset || (cursorRaw !== undefined && cursor === undefined))
        body['cursor-reset'] = true;
      sendJson(res, body);
    });
  }
  if (clearLogs) {
    rc.add('/logs', 'DELETE', async (req, res) => {
      if (!loggingOn(req)) throw disabled();
      const { removed } = await rc.runner.call(
        'clearLogs',
        req,
        res,
        (ctx) => clearLogs(ctx),
        (v) => ({ removed: shape.count(shape.object(v, '$').removed, '$.removed') }),
      );
      sendJson(res, { success: true, message: 'Logs cleared successfully', removed });
    });
  }
  if (listErrorLogs) {
    rc.add('/request-error-logs', 'GET', async (req, res) => {
      const files = await rc.runner.call(
        'listErrorLogs',
        req,
        res,
        (ctx) => listErrorLogs(ctx),
        shape.errorLogFiles,
      );
      const shown = files.filter(
        (f) => ERROR_LOG_NAME.test(f.name) && Buffer.byteLength(f.name) <= 255,
      );
      shown.sort(
        (a, b) => b.modified - a.modified || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
      );
      sendJson(res, { files: shown });
    });
  }
}
