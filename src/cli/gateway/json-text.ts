/** A JSON string literal, matched at `lastIndex` (sticky). */
const JSON_STRING = /"(?:[^"\\]|\\.)*"/y;

/** The JSON string literal starting at `at` in `text`. */
export function stringAt(text: string, at: number): string {
  JSON_STRING.lastIndex = at;
  return JSON_STRING.exec(text)![0];
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
      const literal = stringAt(text, at);
      at += literal.length;
      if (nameNext) {
        const names = open.at(-1)!;
        // Only escapes need decoding, and most names have none.
        const name = literal.includes('\\')
          ? (JSON.parse(literal) as string)
          : literal.slice(1, -1);
        if (names.has(name)) return true;
        names.add(name);
        nameNext = false;
      }
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
