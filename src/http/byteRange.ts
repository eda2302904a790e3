/**
 * Range requests on downloads (RFC 9110 §14): one byte range per request, which is what clients
 * resuming a broken download send. Anything else a server may ignore is ignored, and the whole file
 * goes out as a 200.
 */
import { ExportError } from '../export/errors';

/** Inclusive byte positions within a file. */
export interface ByteRange {
  start: number;
  end: number;
}

/** No byte of the requested range is in the file: 416 with `Content-Range: bytes *\/{size}`. */
export class RangeNotSatisfiableError extends ExportError {
  readonly statusCode = 416;
  override readonly issueCode = 'invalid';
  readonly contentRange: string;
  constructor(readonly size: number) {
    super(`The requested range is not within the file's ${size} bytes.`);
    this.contentRange = `bytes */${size}`;
  }
}

const SINGLE_RANGE = /^bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i;

/**
 * The range that `rangeHeader` asks for within a file of `size` bytes; undefined when the whole file
 * is to be sent (no header, a form we ignore: several ranges, another unit, bad syntax; or an
 * `If-Range`, whose validator can never match since none is handed out). Throws
 * `RangeNotSatisfiableError` when the range starts past the end or is an empty suffix.
 */
export function requestedRange(
  size: number,
  rangeHeader: string | null | undefined,
  ifRange?: string | null,
): ByteRange | undefined {
  if (!rangeHeader || ifRange) return undefined;
  const match = SINGLE_RANGE.exec(rangeHeader);
  if (!match) return undefined;
  const [, first, last] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) throw new RangeNotSatisfiableError(size);
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) throw new RangeNotSatisfiableError(size);
  return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}

/** The `Content-Range` of a 206 carrying `range` of a file of `size` bytes. */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

/** Whether `Accept-Encoding` allows gzip (present with a weight above 0, directly or through `*`). */
export function acceptsGzip(acceptEncoding: string | null | undefined): boolean {
  const weights = new Map<string, number>();
  for (const part of (acceptEncoding ?? '').split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (!coding) continue;
    const q = params.map((p) => /^\s*q\s*=\s*([\d.]+)\s*$/.exec(p)).find((m) => m !== null);
    weights.set(coding.trim(), q ? Number(q[1]) : 1);
  }
  const weight = weights.get('gzip') ?? weights.get('x-gzip') ?? weights.get('*') ?? 0;
  return weight > 0;
}
