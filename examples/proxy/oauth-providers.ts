/**
 * The CLI Proxy API's own login providers, declared for the library's OAuth logins, so the
 * panel's OAuth page offers them. Endpoints, redirect URIs, scopes and the public client ids
 * are facts read from the Go server's source (`internal/auth/<provider>/`); nothing here is in
 * the library, which knows OAuth 2.0 only. A client secret comes from the environment
 * (antigravity's Google installed-app secret: `ANTIGRAVITY_CLIENT_SECRET`; without it that
 * provider is left out).
 *
 * Each `toAuthFile` writes the file the Go server writes: `type`, the tokens, `expired`
 * (RFC 3339), `email` and the provider's own members.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { OAuthProvider, OAuthTokens } from '../../lib'; // 'cli-proxy-management'

/** `expired` as the Go server writes it: the access token's end, RFC 3339. */
const expired = (t: OAuthTokens): string | undefined =>
  t.expires_in === undefined
    ? undefined
    : new Date(t.obtained_at.getTime() + t.expires_in * 1000)
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z');

/** The token members every file has. */
const base = (type: string, t: OAuthTokens): Record<string, unknown> => ({
  type,
  access_token: t.access_token,
  ...(t.refresh_token ? { refresh_token: t.refresh_token } : {}),
  ...(expired(t) ? { expired: expired(t) } : {}),
});

/** A part of a file name: what the name rule allows, the rest as `_`. */
const part = (s: string): string => s.replace(/[^\p{L}\p{M}\p{Nd}._@+-]/gu, '_');

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * Anthropic's token endpoint takes JSON with the `state`, and its page shows the code as
 * `<code>#<state>`: this `fetch` turns oauth4webapi's form request into that.
 */
const anthropicFetch: typeof fetch = async (input, init) => {
  if (!(init?.body instanceof URLSearchParams) || !String(input).endsWith('/v1/oauth/token'))
    return fetch(input, init);
  const form = Object.fromEntries(init.body);
  const [code, state] = str(form.code).split('#');
  const headers = new Headers(init.headers);
  headers.set('content-type', 'application/json');
  const body = JSON.stringify({
    grant_type: form.grant_type,
    code,
    redirect_uri: form.redirect_uri,
    client_id: form.client_id,
    code_verifier: form.code_verifier,
    ...(state ? { state } : {}),
  });
  return fetch(input, { ...init, headers, body });
};

/** Kimi wants its device headers on every request. */
const kimiFetch: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  headers.set('X-Msh-Platform', 'CLIProxyAPI');
  headers.set('X-Msh-Device-Name', hostname());
  headers.set('X-Msh-Device-Model', `${process.platform} ${process.arch}`);
  headers.set(
    'X-Msh-Device-Id',
    createHash('sha256').update(hostname()).digest('hex').slice(0, 32),
  );
  return fetch(input, { ...init, headers });
};

/** The Go server's providers; `env` supplies the secrets. */
export function upstreamProviders(env: NodeJS.ProcessEnv = process.env): OAuthProvider[] {
  const providers: OAuthProvider[] = [
    {
      id: 'anthropic',
      flow: 'authorization_code',
      issuer: 'https://claude.ai',
      authorizationEndpoint: 'https://claude.ai/oauth/authorize',
      tokenEndpoint: 'https://platform.claude.com/v1/oauth/token',
      clientId: '9d1c250a-e61b-44d9-88ed-5944d1962f5e',
      redirectUri: 'http://localhost:54545/callback',
      callbackPort: 54545,
      scopes: [
        'user:profile',
        'user:inference',
        'user:sessions:claude_code',
        'user:mcp_servers',
        'user:file_upload',
      ],
      extraParams: { code: 'true' },
      fetch: anthropicFetch,
      toAuthFile: (t) => {
        const email = str(
          (t.response.account as Record<string, unknown> | undefined)?.email_address,
        );
        return {
          name: `claude-${part(email || 'account')}.json`,
          json: { ...base('claude', t), email },
        };
      },
    },
    {
      id: 'codex',
      flow: 'authorization_code',
      issuer: 'https://auth.openai.com',
      authorizationEndpoint: 'https://auth.openai.com/oauth/authorize',
      tokenEndpoint: 'https://auth.openai.com/oauth/token',
      clientId: 'app_EMoamEEZ73f0CkXaXp7hrann',
      redirectUri: 'http://localhost:1455/auth/callback',
      callbackPort: 1455,
      scopes: ['openid', 'email', 'profile', 'offline_access'],
      extraParams: {
        prompt: 'login',
        id_token_add_organizations: 'true',
        codex_cli_simplified_flow: 'true',
      },
      toAuthFile: (t) => {
        const auth = (t.claims?.['https://api.openai.com/auth'] ?? {}) as Record<string, unknown>;
        const email = str(t.claims?.email);
        const accountId = str(auth.chatgpt_account_id);
        const plan = str(auth.chatgpt_plan_type);
        const hash = createHash('sha256').update(accountId).digest('hex').slice(0, 8);
        return {
          name: `codex-${hash}-${part(email || 'account')}${plan ? `-${part(plan)}` : ''}.json`,
          json: {
            ...base('codex', t),
            id_token: t.id_token,
            account_id: accountId,
            email,
            last_refresh: t.obtained_at.toISOString(),
          },
        };
      },
    },
    {
      id: 'kimi',
      flow: 'device_code',
      issuer: 'https://auth.kimi.com',
      deviceAuthorizationEndpoint: 'https://auth.kimi.com/api/oauth/device_authorization',
      tokenEndpoint: 'https://auth.kimi.com/api/oauth/token',
      clientId: '17e5f671-d194-4dfb-9706-5516cb48c098',
      fetch: kimiFetch,
      toAuthFile: (t) => ({
        name: `kimi-${t.obtained_at.getTime()}.json`,
        json: {
          ...base('kimi', t),
          token_type: t.token_type,
          ...(t.scope ? { scope: t.scope } : {}),
        },
      }),
    },
    {
      id: 'xai',
      flow: 'device_code',
      issuer: 'https://auth.x.ai',
      discovery: 'oidc',
      clientId: 'b1a00492-073a-47ea-816f-4c329264a828',
      scopes: ['openid', 'profile', 'email', 'offline_access', 'grok-cli:access', 'api:access'],
      toAuthFile: (t) => {
        const who = str(t.claims?.email) || str(t.claims?.sub) || 'account';
        return {
          name: `xai-${part(who)}.json`,
          json: {
            ...base('xai', t),
            ...(t.id_token ? { id_token: t.id_token } : {}),
            email: str(t.claims?.email),
            sub: str(t.claims?.sub),
          },
        };
      },
    },
  ];
  const secret = env.ANTIGRAVITY_CLIENT_SECRET;
  if (secret) {
    providers.push({
      id: 'antigravity',
      flow: 'authorization_code',
      issuer: 'https://accounts.google.com',
      authorizationEndpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
      tokenEndpoint: 'https://oauth2.googleapis.com/token',
      clientId: '1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com',
      clientSecret: secret,
      pkce: false,
      redirectUri: 'http://localhost:51121/oauth-callback',
      callbackPort: 51121,
      scopes: [
        'cloud-platform',
        'userinfo.email',
        'userinfo.profile',
        'cclog',
        'experimentsandconfigs',
      ].map((s) => `https://www.googleapis.com/auth/${s}`),
      extraParams: { access_type: 'offline', prompt: 'consent' },
      toAuthFile: async (t, ctx) => {
        const headers = { Authorization: `Bearer ${t.access_token}` };
        const user = (await (
          await ctx.fetch('https://www.googleapis.com/oauth2/v2/userinfo?alt=json', {
            headers,
            signal: ctx.signal,
          })
        ).json()) as Record<string, unknown>;
        const email = str(user.email);
        let projectId = '';
        try {
          const res = await ctx.fetch(
            'https://cloudcode-pa.googleapis.com/v1internal:loadCodeAssist',
            {
              method: 'POST',
              headers: { ...headers, 'Content-Type': 'application/json' },
              body: JSON.stringify({
                metadata: {
                  ideType: 'ANTIGRAVITY',
                  platform: 'PLATFORM_UNSPECIFIED',
                  pluginType: 'GEMINI',
                },
              }),
              signal: ctx.signal,
            },
          );
          const body = (await res.json()) as Record<string, unknown>;
          const project = body.cloudaicompanionProject;
          projectId =
            typeof project === 'string'
              ? project
              : str((project as Record<string, unknown> | undefined)?.id);
        } catch {
          // No project: the file is still useful; the proxy can look the project up later.
        }
        return {
          name: `antigravity-${part(email || 'account')}.json`,
          json: {
            ...base('antigravity', t),
            email,
            ...(projectId ? { project_id: projectId } : {}),
          },
        };
      },
    });
  }
  return providers;
}
