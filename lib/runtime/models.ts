// Model lists, the latest version and the API-key counts: the host's values, checked and shaped.
import { HttpError } from '../http/errors';
import { queryParam } from '../http/request';
import { sendJson } from '../http/reply';
import { authFileName } from '../kinds/files/routes';
import type { RuntimeContext } from './context';
import { errorName, HookError } from './hook-call';
import * as shape from './shapes';

/** `/api-key-usage`, `/auth-files/models`, `/model-definitions/:channel` and `/latest-version`, for the hooks given. */
export function modelRoutes(rc: RuntimeContext): void {
  const { apiKeyUsage, authFileModels, modelDefinitions, latestVersion } = rc.runtime.hooks;
  if (apiKeyUsage) {
    rc.add('/api-key-usage', 'GET', async (req, res) => {
      sendJson(
        res,
        await rc.runner.call('apiKeyUsage', req, res, (ctx) => apiKeyUsage(ctx), shape.apiKeyUsage),
      );
    });
  }
  if (authFileModels) {
    rc.add('/auth-files/models', 'GET', async (req, res) => {
      const raw = queryParam(req, 'name', 'invalid name');
      if (raw === undefined || raw.trim() === '') throw new HttpError(400, 'name is required');
      const name = authFileName(raw.trim());
      const models = await rc.runner.call(
        'authFileModels',
        req,
        res,
        (ctx) => authFileModels(name, ctx),
        (v) => (v === undefined ? [] : shape.fileModels(v)),
      );
      sendJson(res, { models });
    });
  }
  if (modelDefinitions) {
    rc.add('/model-definitions/:channel', 'GET', async (req, res) => {
      const channel = String(req.params.channel ?? '')
        .trim()
        .toLowerCase();
      if (channel === '') throw new HttpError(400, 'channel is required');
      const models = await rc.runner.call(
        'modelDefinitions',
        req,
        res,
        (ctx) => modelDefinitions(channel, ctx),
        (v) => (v === undefined ? undefined : shape.modelDefinitions(v)),
      );
      if (models === undefined) return sendJson(res, { error: 'unknown channel', channel }, 400);
      sendJson(res, { channel, models });
    });
  }
  if (latestVersion) {
    rc.add('/latest-version', 'GET', async (req, res) => {
      // A failed release check (a throw other than HookError) is the upstream's failure: 502, its text never sent.
      const failed: { name?: string } = {};
      const version = await rc.runner.call(
        'latestVersion',
        req,
        res,
        async (ctx) => {
          try {
            return await latestVersion(ctx);
          } catch (err) {
            if (err instanceof HookError) throw err;
            failed.name = errorName(err);
            return '';
          }
        },
        (v) => shape.string(v, '$').trim(),
      );
      if (failed.name !== undefined) {
        rc.logger.warn(`cli-proxy-management: runtime hook latestVersion failed (${failed.name})`);
        throw new HttpError(502, 'request_failed', undefined, undefined, 'version check failed');
      }
      if (version === '')
        throw new HttpError(
          502,
          'invalid_response',
          undefined,
          undefined,
          'missing release version',
        );
      sendJson(res, { 'latest-version': version });
    });
  }
}
