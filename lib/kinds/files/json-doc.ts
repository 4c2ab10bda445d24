/**
 * A JSON text as a tree that keeps what `JSON.parse` + `JSON.stringify` would lose: member order
 * (an integer-like key stays where it was), every number exactly as written (no rounding of
 * large integers), every string with its escapes, duplicate members. Used to edit a token file
 * (`PATCH /auth-files/status` and `/fields`): the edit touches only the members it sets, and the
 * file is written back with a 2-space indent.
 */

/** A value: an object (members in file order), an array, or a scalar kept as its source text. */
export type JsonNode =
  | { readonly kind: 'object'; members: JsonMember[] }
  | { readonly kind: 'array'; items: JsonNode[] }
  | { readonly kind: 'raw'; readonly raw: string };

export interface JsonMember {
  /** The decoded key. */
  readonly key: string;
  /** The key as written, quotes and escapes included. */
  readonly rawKey: string;
  value: JsonNode;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Parse a JSON text. The text must be valid JSON (checked with `JSON.parse` first, so this
 * reader only has to split it); a leading BOM is not allowed here (the caller strips it).
 *
 * @throws {SyntaxError} for a text that is not JSON.
 * @throws {RangeError} for nesting too deep for the stack.
 */
export function parseJsonDoc(text: string): JsonNode {
  JSON.parse(text);
  let pos = 0;
  const skip = (): void => {
    while (pos < text.length && WS.has(text.charCodeAt(pos))) pos++;
  };
  const stringEnd = (start: number): number => {
    let i = start + 1;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    return i + 1;
  };
  const value = (): JsonNode => {
    skip();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const members: JsonMember[] = [];
      skip();
      if (text[pos] === '}') {
        pos++;
        return { kind: 'object', members };
      }
      for (;;) {
        skip();
        const end = stringEnd(pos);
        const rawKey = text.slice(pos, end);
        pos = end;
        skip();
        pos++; // ':'
        members.push({ key: JSON.parse(rawKey) as string, rawKey, value: value() });
        skip();
        if (text[pos++] === '}') return { kind: 'object', members };
      }
    }
    if (c === '[') {
      pos++;
      const items: JsonNode[] = [];
      skip();
      if (text[pos] === ']') {
        pos++;
        return { kind: 'array', items };
      }
      for (;;) {
        items.push(value());
        skip();
        if (text[pos++] === ']') return { kind: 'array', items };
      }
    }
    const start = pos;
    if (c === '"') pos = stringEnd(pos);
    else
      while (
        pos < text.length &&
        !WS.has(text.charCodeAt(pos)) &&
        !',]}'.includes(text[pos] as string)
      )
        pos++;
    return { kind: 'raw', raw: text.slice(start, pos) };
  };
  return value();
}

/** A node for a value that came as parsed JSON (a request body). */
export function jsonNode(value: unknown): JsonNode {
  if (Array.isArray(value)) return { kind: 'array', items: value.map(jsonNode) };
  if (value !== null && typeof value === 'object') {
    return {
      kind: 'object',
      members: Object.entries(value).map(([key, v]) => ({
        key,
        rawKey: JSON.stringify(key),
        value: jsonNode(v),
      })),
    };
  }
  return { kind: 'raw', raw: JSON.stringify(value) ?? 'null' };
}

/** The text of a node with a 2-space indent (`{}` and `[]` when empty), as `JSON.stringify(v, null, 2)` lays it out. */
export function renderJsonDoc(node: JsonNode, indent = ''): string {
  if (node.kind === 'raw') return node.raw;
  const inner = `${indent}  `;
  if (node.kind === 'array') {
    if (node.items.length === 0) return '[]';
    return `[\n${node.items.map((v) => inner + renderJsonDoc(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (node.members.length === 0) return '{}';
  return `{\n${node.members.map((m) => `${inner}${m.rawKey}: ${renderJsonDoc(m.value, inner)}`).join(',\n')}\n${indent}}`;
}

/** The value of member `key` (the last one when the key is repeated, as `JSON.parse` reads it). */
export function getMember(obj: JsonNode, key: string): JsonNode | undefined {
  if (obj.kind !== 'object') return undefined;
  for (let i = obj.members.length - 1; i >= 0; i--)
    if (obj.members[i]?.key === key) return obj.members[i]?.value;
  return undefined;
}

/**
 * Set member `key` of an object node: the first member of that name keeps its place and gets
 * the value, later repeats of it are dropped; a new key is appended.
 */
export function setMember(obj: JsonNode & { kind: 'object' }, key: string, value: JsonNode): void {
  const at = obj.members.findIndex((m) => m.key === key);
  if (at === -1) {
    obj.members.push({ key, rawKey: JSON.stringify(key), value });
    return;
  }
  (obj.members[at] as JsonMember).value = value;
  obj.members = obj.members.filter((m, i) => i <= at || m.key !== key);
}

/** Remove every member `key`; whether there was one. */
export function removeMember(obj: JsonNode & { kind: 'object' }, key: string): boolean {
  const before = obj.members.length;
  obj.members = obj.members.filter((m) => m.key !== key);
  return obj.members.length !== before;
}

/** Set the member at a path of keys, creating (or replacing non-object values by) objects on the way. */
export function setPath(
  obj: JsonNode & { kind: 'object' },
  path: readonly string[],
  value: JsonNode,
): void {
  let node = obj;
  for (const key of path.slice(0, -1)) {
    let next = getMember(node, key);
    if (next?.kind !== 'object') {
      next = { kind: 'object', members: [] };
      setMember(node, key, next);
    }
    node = next;
  }
  setMember(node, path[path.length - 1] as string, value);
}

/** The decoded value of a raw string node, `undefined` for any other node. */
export function stringValue(node: JsonNode | undefined): string | undefined {
  if (node?.kind !== 'raw' || !node.raw.startsWith('"')) return undefined;
  return JSON.parse(node.raw) as string;
}
