/**
 * One HTTP exchange with a FHIR server, over keep-alive sockets of `node:http` / `node:https`.
 *
 * Not the global fetch: its web streams and the concatenation of every chunk are a large share of
 * the read path's CPU. Here a body that declares its length is read straight into one buffer of
 * that size. The deadline covers the whole exchange: connecting, the headers and the body.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

/** The body of a response was larger than the byte budget; nothing of it is kept. */
export class ResponseTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`response body exceeds ${maxBytes} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

/** The exchange did not finish within its deadline. */
export class HttpDeadlineError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no complete answer within ${timeoutMs} ms`);
    this.name = 'HttpDeadlineError';
  }
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** Milliseconds for the whole exchange (connect, headers and body). */
  timeoutMs: number;
}

export interface HttpAnswer {
  status: number;
  statusText: string;
  header(name: string): string | undefined;
  /**
   * The body, up to `maxBytes`. Past that the exchange is dropped and, when `strict`,
   * `ResponseTooLargeError` is thrown; otherwise the first `maxBytes` bytes are returned. The body is
   * read into memory from `allocate` when given (e.g. a pool), else into fresh memory.
   */
  read(maxBytes: number, strict: boolean, allocate?: Allocate): Promise<Buffer>;
  /** Drops the body unread (the socket is closed rather than drained). */
  discard(): void;
}

/** Memory for a body of `bytes` bytes (contents undefined). */
export type Allocate = (bytes: number) => Buffer;

const freshMemory: Allocate = (bytes) => Buffer.allocUnsafe(bytes);

const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

/** Errors of a reused keep-alive socket that the server closed while it sat idle. */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * Sends the request and resolves once the headers are in; the deadline keeps running until the body
 * is read or discarded. A request on a reused socket that the server had already closed is sent once
 * more on a fresh one (the requests sent here are searches and reads, safe to repeat).
 */
export async function sendHttp(url: string, request: HttpRequest): Promise<HttpAnswer> {
  const deadline = Date.now() + request.timeoutMs;
  try {
    return await attempt(url, request, deadline);
  } catch (error) {
    if (!(error instanceof StaleSocketError)) throw error;
    return attempt(url, request, deadline);
  }
}

class StaleSocketError extends Error {}

function attempt(url: string, request: HttpRequest, deadline: number): Promise<HttpAnswer> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
  if (!transport) return Promise.reject(new Error(`unsupported protocol ${target.protocol}`));
  const headers =
    request.body === undefined
      ? request.headers
      : { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) };
  return new Promise<HttpAnswer>((resolve, reject) => {
    let answered = false;
    let expired = false;
    const req = transport.request(target, {
      method: request.method,
      headers,
      agent: agents[target.protocol as keyof typeof agents],
    });
    const timer = setTimeout(
      () => {
        expired = true;
        req.destroy(new HttpDeadlineError(request.timeoutMs));
      },
      Math.max(0, deadline - Date.now()),
    );
    // Kept for the whole exchange: errors after the headers belong to the body read (see readBody).
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (answered) return;
      clearTimeout(timer);
      answered = true;
      const stale = req.reusedSocket && error.code !== undefined && STALE_SOCKET_CODES.has(error.code);
      reject(stale ? new StaleSocketError(error.message) : error);
    });
    req.once('response', (res) => {
      answered = true;
      // Errors of a body nobody reads (discarded) must not go unhandled.
      res.on('error', () => undefined);
      resolve(
        answerOf(req, res, timer, () => (expired ? new HttpDeadlineError(request.timeoutMs) : undefined)),
      );
    });
    req.end(request.body);
  });
}

function answerOf(
  req: http.ClientRequest,
  res: IncomingMessage,
  timer: NodeJS.Timeout,
  deadlineError: () => HttpDeadlineError | undefined,
): HttpAnswer {
  let consumed = false;
  const finish = (): void => {
    consumed = true;
    clearTimeout(timer);
  };
  return {
    status: res.statusCode ?? 0,
    statusText: res.statusMessage ?? '',
    header: (name) => {
      const value = res.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    read: (maxBytes, strict, allocate = freshMemory) => {
      if (consumed) return Promise.reject(new Error('the body was already read'));
      return readBody(req, res, maxBytes, strict, allocate, deadlineError).finally(finish);
    },
    discard: () => {
      if (consumed) return;
      finish();
      req.destroy();
    },
  };
}

function readBody(
  req: http.ClientRequest,
  res: IncomingMessage,
  maxBytes: number,
  strict: boolean,
  allocate: Allocate,
  deadlineError: () => HttpDeadlineError | undefined,
): Promise<Buffer> {
  const lengthHeader = res.headers['content-length'];
  const declared = Number(lengthHeader);
  const hasLength = lengthHeader !== undefined && Number.isSafeInteger(declared) && declared >= 0;
  if (strict && hasLength && declared > maxBytes) {
    req.destroy();
    return Promise.reject(new ResponseTooLargeError(maxBytes));
  }
  return new Promise<Buffer>((resolve, reject) => {
    // With a declared length the bytes go straight into their final buffer; else chunks are kept.
    // (A server sending more than it declared is cut off by the HTTP parser.)
    const whole = hasLength ? allocate(Math.min(declared, maxBytes)) : undefined;
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    const keep = (chunk: Buffer): void => {
      if (whole) chunk.copy(whole, total);
      else chunks.push(chunk);
      total += chunk.length;
    };
    const collected = (): Buffer => {
      if (whole) return whole.subarray(0, total);
      const body = allocate(total);
      let at = 0;
      for (const chunk of chunks) at += chunk.copy(body, at);
      return body;
    };
    const settle = (outcome: Error | (() => Buffer)): void => {
      if (done) return;
      done = true;
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome());
    };
    res.on('data', (chunk: Buffer) => {
      if (done) return;
      if (chunk.length <= maxBytes - total) return keep(chunk);
      req.destroy();
      if (strict) return settle(new ResponseTooLargeError(maxBytes));
      keep(chunk.subarray(0, maxBytes - total));
      settle(collected);
    });
    res.once('end', () => settle(collected));
    res.once('close', () => {
      if (res.complete) return settle(collected);
      // Cut short: by the deadline, or by the other side.
      settle(deadlineError() ?? new Error('the connection closed before the body was complete'));
    });
  });
}
