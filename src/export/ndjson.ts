/** NDJSON encoding of a page. */
import type { ResourceLine } from '../sources/searchSource';

/**
 * The lines as UTF-8 NDJSON, each followed by `\n`, written straight into one buffer of the exact
 * size: byte lines copied, text lines encoded in place. Joining the page into one string and
 * encoding that costs several times more CPU and memory on large pages.
 */
export function ndjsonBuffer(lines: readonly ResourceLine[]): Buffer {
  let size = lines.length;
  for (const line of lines) size += typeof line === 'string' ? Buffer.byteLength(line, 'utf8') : line.length;
  const data = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const line of lines) {
    offset += typeof line === 'string' ? data.write(line, offset, 'utf8') : line.copy(data, offset);
    data[offset++] = 0x0a;
  }
  return data;
}
