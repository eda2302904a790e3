/**
 * Backpressure for streamed response bodies.
 *
 * With HTTP streams, `@azure/functions` writes a body to its proxy connection as fast as the body
 * yields and never waits for that connection to drain (azure-functions-nodejs-library#294), so for a
 * client slower than Blob Storage the whole file would pile up in the worker's memory. The proxy's
 * requests carry the invocation id (`x-ms-invocation-id`), and Node's `http.server.request.start`
 * diagnostics channel shows each request of the process with its response: a body made here reads on
 * only once that response has drained, and stops reading once its connection is gone.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

const INVOCATION_ID_HEADER = 'x-ms-invocation-id';
const proxyResponses = new Map<string, ServerResponse>();

subscribe('http.server.request.start', (message) => {
  const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
  const invocationId = request.headers[INVOCATION_ID_HEADER];
  if (typeof invocationId !== 'string' || proxyResponses.has(invocationId)) return;
  proxyResponses.set(invocationId, response);
  response.once('close', () => proxyResponses.delete(invocationId));
});

/**
 * `source` as the body of the response of invocation `invocationId`, read no faster than that
 * response's connection takes it. Without HTTP streams (no proxy response) it is read on demand.
 */
export function streamedBody(source: Readable, invocationId: string): ReadableStream<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const response = proxyResponses.get(invocationId);
        if (response?.writableNeedDrain) await drainedOrClosed(response);
        if (response?.destroyed) {
          // The client went away: reading the rest of the file would be for nobody.
          source.destroy();
          controller.close();
          return;
        }
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      cancel() {
        source.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}

function drainedOrClosed(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.once('drain', done);
    response.once('close', done);
  });
}
