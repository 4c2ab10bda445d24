import { isTokenFileName, tokenFileName } from '../lib/engines/tokens';

/** The one token-file name rule of every engine and route (moved here from auth-files.test.ts, so mutation testing can run it alone). */
describe('tokenFileName (the one name rule, in the token store)', () => {
  it.each([
    'acc1.json',
    'ACC1.JSON',
    'a.Json',
    'my acc@example.com+2.json',
    'a_b-c.d.json',
    'a..json',
    'compté 東京.json',
    'cafe\u0301.json', // a combining accent (NFD form)
    `${'a'.repeat(250)}.json`, // 255 bytes
    `${'é'.repeat(125)}.json`, // 255 bytes in 130 characters
  ])('accepts %j', (name) => {
    expect(tokenFileName(name)).toBe(name);
  });

  it.each([
    undefined,
    ['a.json'],
    '',
    '.json',
    '.a.json',
    '../a.json',
    'a/b.json',
    'a\\b.json',
    'a\u0000.json',
    'a\u001f.json',
    'a\u007f.json',
    'a\u202e.json', // right-to-left override
    'a\u200b.json', // zero-width space
    'a%2f.json',
    'a:b.json',
    'a*.json',
    'a"b.json',
    'a\ud800.json', // lone surrogate
    '😀.json',
    `${'a'.repeat(251)}.json`,
    `${'é'.repeat(126)}.json`,
  ])('refuses %j with INVALID_NAME', (name) => {
    expect(() => tokenFileName(name)).toThrow(
      expect.objectContaining({ name: 'StoreError', code: 'INVALID_NAME' }),
    );
  });

  it('a good name without the ending is NAME_NOT_JSON', () => {
    expect(() => tokenFileName('acc1.txt')).toThrow(
      expect.objectContaining({ code: 'NAME_NOT_JSON' }),
    );
    // Surrounding spaces are not trimmed away: such a name is invalid (auth-file-attacks.test.ts).
    expect(() => tokenFileName('acc1.json ')).toThrow(
      expect.objectContaining({ code: 'INVALID_NAME' }),
    );
    expect(() => tokenFileName(' acc1.json')).toThrow(
      expect.objectContaining({ code: 'INVALID_NAME' }),
    );
  });
});

describe('isTokenFileName', () => {
  it.each([
    ['acc1.json', true],
    ['.a.json', false],
    ['a.txt', false],
    ['a/b.json', false],
  ])('%j is %s', (name, ok) => {
    expect(isTokenFileName(name)).toBe(ok);
  });
});
