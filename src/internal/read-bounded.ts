/**
 * Reads `source` to its end as UTF-8 text, or resolves `undefined` as soon as it exceeds
 * `limit` bytes, reading no further: a body sent by anyone can be endless. Stopping early ends
 * the iteration, so pass an iterator that does what the caller needs then (a web stream's
 * cancels the download; `request.iterator({ destroyOnReturn: false })` keeps the connection
 * open for an answer).
 */
export async function readBoundedText(
  source: AsyncIterable<Uint8Array>,
  limit: number,
): Promise<string | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of source) {
    size += chunk.byteLength;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
