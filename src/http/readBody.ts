import { BadRequestError, ExportError } from '../export/errors';

export class PayloadTooLargeError extends ExportError {
  readonly statusCode = 413;
  override readonly issueCode = 'too-long';
}

/** Reads a request body as UTF-8 text, refusing more than `maxBytes` without buffering it all. */
export async function readBodyText(
  request: { headers: { get(name: string): string | null }; body: ReadableStream<Uint8Array> | null },
  maxBytes: number,
): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBytes)
    throw new PayloadTooLargeError(`The request body is larger than ${maxBytes} bytes.`);
  if (!request.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new PayloadTooLargeError(`The request body is larger than ${maxBytes} bytes.`);
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new BadRequestError('The request body is not valid UTF-8.', 'structure');
  }
}
