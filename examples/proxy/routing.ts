/**
 * Where a model goes: read from the live config on every request. An `openai-compatibility`
 * entry serves each of its models by name or alias; a `*-api-key` entry with a `base-url` serves
 * the models it lists. Every upstream is spoken to in the OpenAI chat-completions shape.
 */
import type { ProxyConfig } from '../../lib'; // 'cli-proxy-management'

/** One upstream able to serve a model. */
export interface Target {
  /** The provider as the panel counts it: `claude`, `codex`..., or the compatibility entry's name (lower-case). */
  readonly provider: string;
  /** Trimmed base URL, e.g. `https://api.example.com/v1`. */
  readonly baseUrl: string;
  /** The key sent upstream as `Authorization: Bearer`. */
  readonly apiKey: string;
  /** The model name upstream. */
  readonly model: string;
}

/** The `*-api-key` lists and the provider name the panel shows their counts under. */
export const KEY_LISTS: Readonly<Record<string, string>> = {
  'gemini-api-key': 'gemini',
  'interactions-api-key': 'gemini-interactions',
  'claude-api-key': 'claude',
  'codex-api-key': 'codex',
  'xai-api-key': 'xai',
  'vertex-api-key': 'vertex',
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');

/** A model entry's upstream name and the name clients use. */
function names(m: Obj): { name: string; alias: string } {
  const name = text(m.name);
  return { name, alias: text(m.alias) || name };
}

/** Every model a client may ask for, with who serves it (the first entry listing it wins). */
export function modelTable(config: ProxyConfig): Map<string, Target[]> {
  const table = new Map<string, Target[]>();
  const add = (id: string, target: Target): void => {
    if (!id) return;
    const targets = table.get(id) ?? [];
    targets.push(target);
    table.set(id, targets);
  };
  for (const entry of list(config['openai-compatibility'])) {
    if (entry.disabled === true) continue;
    const provider = text(entry.name).toLowerCase();
    const baseUrl = text(entry['base-url']);
    const keys = list(entry['api-key-entries'])
      .map((k) => text(k['api-key']))
      .filter(Boolean);
    if (!provider || !baseUrl || keys.length === 0) continue;
    for (const m of list(entry.models)) {
      const { name, alias } = names(m);
      for (const apiKey of keys) {
        add(alias, { provider, baseUrl, apiKey, model: name });
        if (alias !== name) add(name, { provider, baseUrl, apiKey, model: name });
      }
    }
  }
  for (const [key, provider] of Object.entries(KEY_LISTS)) {
    for (const entry of list(config[key])) {
      const baseUrl = text(entry['base-url']);
      const apiKey = text(entry['api-key']);
      if (!baseUrl || !apiKey || entry.disabled === true) continue;
      for (const m of list(entry.models)) {
        const { name, alias } = names(m);
        add(alias, { provider, baseUrl, apiKey, model: name });
      }
    }
  }
  return table;
}

/** The models of one channel (`claude`, `codex`...) from its key list, or `undefined` for a channel this proxy does not know. */
export function channelModels(
  config: ProxyConfig,
  channel: string,
): { id: string; display_name: string; type: string; owned_by: string }[] | undefined {
  const key = Object.entries(KEY_LISTS).find(([, p]) => p === channel)?.[0];
  if (!key) return undefined;
  const seen = new Set<string>();
  const out: { id: string; display_name: string; type: string; owned_by: string }[] = [];
  for (const entry of list(config[key])) {
    for (const m of list(entry.models)) {
      const { name, alias } = names(m);
      if (!alias || seen.has(alias)) continue;
      seen.add(alias);
      out.push({ id: alias, display_name: name, type: channel, owned_by: channel });
    }
  }
  return out;
}
