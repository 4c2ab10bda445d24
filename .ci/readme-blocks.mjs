// The README's fenced code blocks, each with the heading it sits under (`## ` or `### `), for
// the pack test, which runs or type-checks every one of them (and fails on a block it does not
// know what to do with, so a new snippet cannot go untested).

/** Every fenced block: `{ section, lang, text, index }` (`index`: its place within its section). */
export function readmeBlocks(readme) {
  const out = [];
  let section = '';
  let inBlock;
  let count = new Map();
  for (const line of readme.split('\n')) {
    if (inBlock) {
      if (line.startsWith('```')) {
        out.push(inBlock);
        inBlock = undefined;
      } else inBlock.text += `${line}\n`;
      continue;
    }
    const heading = /^#{2,3} (.+)$/.exec(line);
    if (heading) section = heading[1].trim();
    const fence = /^```(\w*)\s*$/.exec(line);
    if (fence) {
      const index = count.get(section) ?? 0;
      count.set(section, index + 1);
      inBlock = { section, lang: fence[1], text: '', index };
    }
  }
  if (inBlock) throw new Error(`README: the block in "${inBlock.section}" is never closed`);
  return out;
}

/** The blocks of one section, in order. */
export const sectionBlocks = (blocks, section) => blocks.filter((b) => b.section === section);
