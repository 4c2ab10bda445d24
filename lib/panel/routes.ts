import type { Request, Response, Router } from 'express';
import type { ResolvedRow } from '../settings';
import type { PanelMeta, PanelRow } from './client/meta';
import { PANEL_CSS, PANEL_HTML, PANEL_JS } from './generated/assets';

export type { PanelMeta, PanelRow } from './client/meta';

/** The resolved table's metadata for the panel: paths, fields, schemas, defaults; never a config value. */
export function panelMeta(
  rows: readonly ResolvedRow[],
  options: { readonly history?: boolean } = {},
): PanelMeta {
  return {
    version: 1,
    ...(options.history ? { history: true } : {}),
    rows: rows.map((d): PanelRow => {
      const { path, field, description } = d;
      switch (d.kind) {
        case 'scalar':
          return {
            kind: 'scalar',
            path,
            field,
            description,
            schema: d.schema,
            ...(d.resetValue === undefined ? {} : { resetValue: d.resetValue }),
          };
        case 'string-array':
          return { kind: 'string-array', path, field, description };
        case 'object-array':
          return {
            kind: 'object-array',
            path,
            field,
            description,
            itemSchema: d.itemSchema,
            matchField: d.matchField,
            matchBodyField: d.matchBodyField,
            matchQuery: d.matchQuery,
            defaults: d.defaults,
          };
        case 'map':
          return {
            kind: 'map',
            path,
            field,
            description,
            nameField: d.nameField,
            listField: d.listField,
            itemSchema: d.itemSchema,
          };
        case 'files':
          return { kind: 'files', path, field: d.field, description };
      }
    }),
  };
}

/**
 * Sent with every panel file. Only this origin's own script, style and API; no inline script
 * or style; `require-trusted-types-for` makes any `innerHTML`-style sink throw in browsers that
 * support it, so nothing from the API can ever be parsed as markup.
 */
export const PANEL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
].join('; ');

function send(res: Response, type: string, body: string): void {
  res.set({
    'Content-Type': type,
    'Content-Security-Policy': PANEL_CSP,
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
  });
  res.send(body);
}

/**
 * The panel's public files. Mounted after the remote check and before the key check, so they
 * need no key but stay invisible when the API is disabled and closed to remote clients. Every
 * URL in the page is relative, so it works under any mount point.
 */
export function panelRoutes(
  router: Router,
  rows: readonly ResolvedRow[],
  options: { readonly history?: boolean } = {},
): void {
  const meta = JSON.stringify(panelMeta(rows, options));
  router.get('/panel', (req: Request, res: Response) => {
    // Non-strict routing matches `/panel` and `/panel/` here; the page needs the slash so that
    // its relative URLs resolve inside the panel folder.
    if (!req.path.endsWith('/')) {
      res.status(302).location('panel/').end();
      return;
    }
    send(res, 'text/html; charset=utf-8', PANEL_HTML);
  });
  router.get('/panel/panel.js', (_req, res) =>
    send(res, 'text/javascript; charset=utf-8', PANEL_JS),
  );
  router.get('/panel/panel.css', (_req, res) => send(res, 'text/css; charset=utf-8', PANEL_CSS));
  router.get('/panel/meta.json', (_req, res) => send(res, 'application/json; charset=utf-8', meta));
}
