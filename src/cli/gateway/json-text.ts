/**
 * Where the JSON string literal starting at `at` in `text` ends (just past its closing quote).
 * A loop rather than a regular expression: one over a string of a few megabytes overflows the
 * stack. Linear: each backslash before a quote is counted once.
 */
function stringEnd(text: string, at: number): number {
  for (let from = at + 1; ; ) {
    const quote = text.indexOf('"', from);
    if (quote < 0) throw new SyntaxError('unterminated JSON string');
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    // An even run of backslashes escapes itself, not the quote.
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

const BACKSLASH = 0x5c;

/** The JSON string literal starting at `at` in `text`. */
export function stringAt(text: string, at: number): string {
  return text.slice(at, stringEnd(text, at));
}

/**
 * Whether an object in `text` names a member twice (`"a"` and `"\u0061"` are one name).
 * `text` must be known to be valid JSON (JSON.parse took it), which keeps the last of the two.
 */
export function repeatsAName(text: string): boolean {
  // Per open object the names it has so far; undefined for an open array.
  const open: (Set<string> | undefined)[] = [];
  let nameNext = false;
  for (let at = 0; at < text.length; ) {
    const char = text[at]!;
    if (char === '"') {
      const end = stringEnd(text, at);
      if (nameNext) {
        const literal = text.slice(at, end);
        const names = open.at(-1)!;
        // Only escapes need decoding, and most names have none.
        const name = literal.includes('\\')
          ? (JSON.parse(literal) as string)
          : literal.slice(1, -1);
        if (names.has(name)) return true;
        names.add(name);
        nameNext = false;
      }
      at = end;
      continue;
    }
    if (char === '{') {
      open.push(new Set());
      nameNext = true;
    } else if (char === '[') open.push(undefined);
    else if (char === '}' || char === ']') {
      open.pop();
      nameNext = false;
    } else if (char === ',') nameNext = open.at(-1) !== undefined;
    at++;
  }
  return false;
}
