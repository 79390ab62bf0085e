/** What replaces a secret in text meant for errors, logs or health reasons. */
export const REDACTED = '[redacted]';

/**
 * Removes the given secrets, anything shaped like a JWT and the credentials of URLs from
 * `text`. Provider messages can echo a request (e.g. a URL with `access_token=`), so every
 * message that leaves a provider passes through here. Takes time linear in `text`, whatever
 * it holds: a message may quote what a caller or a server sent.
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = withoutUrlCredentials(withoutJwts(text));
  for (const secret of secrets) {
    // Very short strings would redact ordinary words; real secrets are long.
    if (secret !== undefined && secret.length >= 8) out = out.split(secret).join(REDACTED);
  }
  return out;
}

// The two scans below find what a regular expression states plainly (quoted in each comment),
// but read each character a bounded number of times: the expressions take time quadratic in
// some texts, since every start position re-reads the rest of its run.

/**
 * Replaces each `/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g`: three base64url
 * segments, the shape of a JWT such as an access token.
 */
function withoutJwts(text: string): string {
  let out = '';
  let copied = 0;
  let at = text.indexOf('eyJ');
  while (at >= 0) {
    let next = at + 1;
    if (at === 0 || !isWordChar(text.charCodeAt(at - 1))) {
      const first = base64urlEnd(text, at + 3);
      // Every start up to `first` shares its segments, so none of them can match either.
      next = first;
      if (text.charCodeAt(first) === DOT) {
        const second = base64urlEnd(text, first + 1);
        const third = text.charCodeAt(second) === DOT ? base64urlEnd(text, second + 1) : second;
        if (second > first + 1 && third > second + 1) {
          out += `${text.slice(copied, at)}${REDACTED}`;
          copied = third;
          next = third;
        } else next = first + 1;
      }
    }
    at = text.indexOf('eyJ', next);
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * Replaces each `/\b([a-z][a-z0-9+.-]*:\/\/)\S*@/gi` with `$1[redacted]@`: a URL's user and
 * password, everything from its `scheme://` to the last `@` before a space.
 */
function withoutUrlCredentials(text: string): string {
  let out = '';
  let copied = 0;
  let separator = text.indexOf('://');
  while (separator >= 0) {
    let next = separator + 1;
    if (schemeStart(text, separator, copied) >= 0) {
      let end = separator + 3;
      let lastAt = -1;
      for (; end < text.length && !isSpace(text.charCodeAt(end)); end++) {
        if (text.charCodeAt(end) === AT) lastAt = end;
      }
      if (lastAt >= 0) {
        out += `${text.slice(copied, separator + 3)}${REDACTED}`;
        copied = lastAt;
        next = lastAt + 1;
      } else next = end; // no `@` left in this word, so no later scheme in it has one
    }
    separator = text.indexOf('://', next);
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * Where the scheme before the `://` at `separator` starts, not before `floor`: the first
 * letter at a word boundary from which only scheme characters lead up to it; -1 if none.
 */
function schemeStart(text: string, separator: number, floor: number): number {
  let start = separator;
  while (start > floor && isSchemeChar(text.charCodeAt(start - 1))) start--;
  for (; start < separator; start++) {
    const boundary = start === 0 || !isWordChar(text.charCodeAt(start - 1));
    if (boundary && isLetter(text.charCodeAt(start))) return start;
  }
  return -1;
}

const DOT = 0x2e;
const AT = 0x40;

function base64urlEnd(text: string, from: number): number {
  let end = from;
  while (end < text.length && isBase64urlChar(text.charCodeAt(end))) end++;
  return end;
}

function isLetter(code: number): boolean {
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x7a;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** `\w` of a regular expression without the `u` flag. */
function isWordChar(code: number): boolean {
  return isLetter(code) || isDigit(code) || code === 0x5f;
}

function isBase64urlChar(code: number): boolean {
  return isWordChar(code) || code === 0x2d;
}

/** After a scheme's first letter: letters, digits, `+`, `-` and `.` (RFC 3986). */
function isSchemeChar(code: number): boolean {
  return isLetter(code) || isDigit(code) || code === 0x2b || code === 0x2d || code === 0x2e;
}

/** `\s` of a regular expression. */
function isSpace(code: number): boolean {
  if (code === 0x20 || (code >= 0x09 && code <= 0x0d)) return true;
  return code > 0x7f && SPACE.test(String.fromCharCode(code));
}

const SPACE = /\s/;

/**
 * `url` without its user name and password: everything between the scheme's `//` (or the
 * start) and the last `@`, and everything after the first `?` or `#` (ioredis takes a
 * `password` from the query, a connection URL carries an `access_token` there). Works on text
 * that does not parse as a URL (a password with a `/` or `@` in it, a typo in the scheme),
 * which is when a URL gets quoted in an error.
 */
export function withoutCredentials(url: string): string {
  const at = url.lastIndexOf('@');
  const start = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0].length ?? 0;
  const shown = at < 0 ? url : `${url.slice(0, start)}${REDACTED}${url.slice(at)}`;
  const query = shown.search(/[?#]/);
  return query < 0 ? shown : `${shown.slice(0, query + 1)}${REDACTED}`;
}
