/** What replaces a secret in text meant for errors, logs or health reasons. */
export const REDACTED = '[redacted]';

/** Three base64url segments: the shape of a JWT, such as an access token. */
const JWT_SHAPE = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g;

/**
 * Removes the given secrets and anything shaped like a JWT from `text`. Provider messages can
 * echo a request (e.g. a URL with `access_token=`), so every message that leaves a provider
 * passes through here.
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text.replace(JWT_SHAPE, REDACTED);
  for (const secret of secrets) {
    // Very short strings would redact ordinary words; real secrets are long.
    if (secret !== undefined && secret.length >= 8) out = out.split(secret).join(REDACTED);
  }
  return out;
}
