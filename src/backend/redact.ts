/** What replaces a secret in text meant for errors, logs or health reasons. */
export const REDACTED = '[redacted]';

/** `scheme://` then anything up to the last `@` before a space: a URL's user and password. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)\S*@/gi;

/** Three base64url segments: the shape of a JWT, such as an access token. */
const JWT_SHAPE = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g;

/**
 * Removes the given secrets, anything shaped like a JWT and the credentials of URLs from
 * `text`. Provider messages can echo a request (e.g. a URL with `access_token=`), so every
 * message that leaves a provider passes through here.
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text.replace(JWT_SHAPE, REDACTED).replace(URL_CREDENTIALS, `$1${REDACTED}@`);
  for (const secret of secrets) {
    // Very short strings would redact ordinary words; real secrets are long.
    if (secret !== undefined && secret.length >= 8) out = out.split(secret).join(REDACTED);
  }
  return out;
}

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
