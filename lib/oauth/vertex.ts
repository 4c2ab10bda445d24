// `POST /vertex/import`: a Google Cloud service-account key (multipart `file`) becomes the token
// file `vertex-<project_id>.json`, written like a login's (atomic, 0600, merged).
import { createPrivateKey } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type Multer from 'multer';
import { HttpError } from '../http/errors';
import { sendJson } from '../http/reply';
import type { RouteTable } from '../http/routes';
import { loadSync } from '../load-sync';
import { isTokenFileName } from '../engines/tokens';
import type { TokenStore } from '../engines/tokens';
import { writeTokenFile } from './token-file';
import type { AuthFileListener } from './types';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const invalidAccount = (reason: string): HttpError =>
  new HttpError(400, 'invalid service account', undefined, undefined, reason);

/** The `private_key` as a PKCS#1 `RSA PRIVATE KEY` PEM; PKCS#1 or PKCS#8 in, line ends repaired (`\\n` as text, CRLF). */
export function rsaPkcs1(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalidAccount('private_key missing');
  const pem = value
    .replace(/\\r\\n|\\n/g, '\n')
    .replace(/\r\n?/g, '\n')
    .trim();
  if (!/^-----BEGIN (RSA )?PRIVATE KEY-----\n/.test(pem))
    throw invalidAccount('private_key is not an RSA PEM key');
  let key;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw invalidAccount('private_key is not a readable PEM key');
  }
  if (key.asymmetricKeyType !== 'rsa') throw invalidAccount('private_key is not an RSA key');
  return key.export({ type: 'pkcs1', format: 'pem' }).toString();
}

/** `vertex-<project_id>.json`, with `/`, `\`, `:` as `_` and spaces as `-`. */
export const vertexFileName = (projectId: string): string =>
  `vertex-${projectId.replace(/[/\\:]/g, '_').replace(/ /g, '-')}.json`;

let multerModule: typeof Multer | undefined;

/** Define `POST /vertex/import`. */
export function vertexRoutes(
  routes: RouteTable,
  tokens: TokenStore,
  uploadLimit: number,
  onAuthFile: AuthFileListener | undefined,
): void {
  let parser: RequestHandler | undefined;
  const multipart: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    if (!req.is('multipart')) return next();
    multerModule ??= loadSync('multer') as typeof Multer;
    const m = multerModule;
    parser ??= m({
      storage: m.memoryStorage(),
      limits: {
        fileSize: uploadLimit,
        files: 1,
        fields: 8,
        fieldSize: 1024,
        parts: 10,
        headerPairs: 64,
      },
      fileFilter: (_req, file, cb) => cb(null, file.fieldname === 'file'),
    }).any();
    parser(req, res, (err?: unknown) => {
      if (err === undefined) return next();
      if (
        err instanceof m.MulterError &&
        (err.code === 'LIMIT_FILE_SIZE' || err.code === 'LIMIT_FIELD_VALUE')
      )
        return next(new HttpError(413, 'request body too large'));
      if (err instanceof m.MulterError && err.code === 'LIMIT_FILE_COUNT')
        return next(new HttpError(413, 'too many files'));
      next(new HttpError(400, 'invalid body', 'malformed multipart body'));
    });
  };

  routes.define(
    '/vertex/import',
    {
      post: async (req, res) => {
        const body: unknown = req.body;
        const fieldLocation =
          isObject(body) && typeof body.location === 'string' ? body.location : undefined;
        const queryLocation =
          typeof req.query.location === 'string' ? req.query.location : undefined;
        const location = (fieldLocation ?? queryLocation ?? '').trim() || 'us-central1';
        if (location.length > 64 || !/^[\x20-\x7e]+$/.test(location))
          throw new HttpError(400, 'invalid location');
        const file = (Array.isArray(req.files) ? req.files : []).find(
          (f) => f.fieldname === 'file',
        );
        if (!file) throw new HttpError(400, 'file required');
        let account: unknown;
        try {
          account = JSON.parse(file.buffer.toString('utf8'));
        } catch {
          account = undefined;
        }
        if (!isObject(account)) throw new HttpError(400, 'invalid json');
        const privateKey = rsaPkcs1(account.private_key);
        const projectId = typeof account.project_id === 'string' ? account.project_id.trim() : '';
        if (projectId === '') throw new HttpError(400, 'project_id missing');
        const name = vertexFileName(projectId);
        if (!isTokenFileName(name)) throw invalidAccount('project_id cannot make a file name');
        const email = typeof account.client_email === 'string' ? account.client_email : '';
        const json = {
          type: 'vertex',
          project_id: projectId,
          email,
          location,
          label: `${projectId} (${email})`,
          service_account: Object.fromEntries([
            ...Object.entries(account).filter(([k]) => k !== 'private_key'),
            ['private_key', privateKey],
          ]),
        };
        await writeTokenFile(tokens, name, json);
        onAuthFile?.(name, 'upload');
        sendJson(res, { status: 'ok', 'auth-file': name, project_id: projectId, email, location });
      },
    },
    { post: [multipart] },
  );
}
