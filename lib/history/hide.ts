// The management key never appears in history: every line that holds it (or its hash, or the
// line of `secret-key` / `remote-management-key` itself) is shown with "<hidden>" instead. Lines
// are hidden one by one, so only the lines of a diff are looked at (a 10,000-key config is never
// parsed again for its history).

/** What a hidden value is shown as (the placeholder `GET /config.yaml` uses too). */
export const HIDDEN = '<hidden>';

/** A bcrypt hash anywhere in a line. */
const HASH = /(["']?)\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}\1/g;
/** The line of the key itself: `secret-key: ...` or `remote-management-key: ...` (maybe a list item, maybe quoted). */
const KEY_LINE = /^(\s*(?:-\s+)?)(["']?)(secret-key|remote-management-key)\2(\s*):(?:\s+(.*))?$/;

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A function that hides the key in one line. `secrets` are the key's values around the change
 * (before and after, plaintext or hash): each is hidden wherever it stands as a whole scalar (an
 * anchor elsewhere in the file that an alias of the key points at, a merged mapping).
 */
export function lineHider(secrets: readonly string[]): (line: string) => string {
  const values = [...new Set(secrets.filter((s) => s !== '' && !/^\$2[aby]\$/.test(s)))];
  const plain =
    values.length === 0
      ? undefined
      : new RegExp(
          `(?<![^\\s:,[{&!|>-])(["']?)(?:${values.map(escape).join('|')})\\1(?![^\\s,\\]}#])`,
          'g',
        );
  return (line) => {
    let out = line;
    if (out.includes('$2')) out = out.replace(HASH, `"${HIDDEN}"`);
    if (plain) out = out.replace(plain, `"${HIDDEN}"`);
    const key = KEY_LINE.exec(out);
    if (key) {
      const rest = (key[5] ?? '').trim();
      // An alias (`*k`) names no secret; a block scalar's lines are hidden by value.
      if (rest !== '' && !rest.startsWith('*') && !/^[|>]/.test(rest))
        out = `${key[1]}${key[2]}${key[3]}${key[2]}${key[4]}: "${HIDDEN}"`;
    }
    return out;
  };
}
