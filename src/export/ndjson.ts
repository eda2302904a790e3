/** NDJSON encoding of a page. */

/**
 * The lines (JSON texts without newlines) as UTF-8 NDJSON, each followed by `\n`, written straight
 * into one buffer of the exact size. Joining the page into one string and encoding that costs
 * several times more CPU and memory on large pages.
 */
export function ndjsonBuffer(lines: readonly string[]): Buffer {
  let size = lines.length;
  for (const line of lines) size += Buffer.byteLength(line, 'utf8');
  const data = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const line of lines) {
    offset += data.write(line, offset, 'utf8');
    data[offset++] = 0x0a;
  }
  return data;
}
