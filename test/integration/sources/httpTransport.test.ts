import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HttpDeadlineError, ResponseTooLargeError, sendHttp } from '../../../src/sources/httpTransport';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, requestOnSocket: number) => void;

interface TestServer {
  url: string;
  connections: number;
  close(): Promise<void>;
}

/** A loopback server that counts connections and tells the handler which request of its socket this is. */
async function serve(handler: Handler): Promise<TestServer> {
  const perSocket = new WeakMap<Socket, number>();
  const server = http.createServer((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    handler(req, res, n);
  });
  const state = { connections: 0 };
  server.on('connection', () => (state.connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/r`,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// A deadline no exchange on loopback meets by accident; the deadline tests run on fake timers.
const GET = { method: 'GET' as const, headers: {}, timeoutMs: 120_000 };
const payload = Buffer.from('x'.repeat(100_000));

/** `payload` with a content-length, or chunked when the path ends with `chunked`. */
const payloadWholeOrChunked: Handler = (req, res) => {
  if (req.url?.endsWith('chunked')) {
    res.write(payload.subarray(0, 40_000));
    res.end(payload.subarray(40_000));
  } else {
    res.writeHead(200, { 'content-length': String(payload.length) }).end(payload);
  }
};

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a failure'),
    (error: unknown) => error,
  );
}

describe('sendHttp over loopback', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('Given a declared length or a chunked body, When read, Then the exact bytes come back', async () => {
    server = await serve(payloadWholeOrChunked);
    for (const url of [server.url, `${server.url}?chunked`]) {
      const answer = await sendHttp(url, GET);
      expect(answer.status).toBe(200);
      expect((await answer.read(1_000_000, true)).equals(payload)).toBe(true);
    }
  });

  it('Given memory to read into, When a body with a declared length or a chunked one is read, Then it lands there, once per body', async () => {
    server = await serve(payloadWholeOrChunked);
    const memory = Buffer.alloc(200_000);
    const sizes: number[] = [];
    const allocate = (bytes: number): Buffer => {
      sizes.push(bytes);
      return memory.subarray(0, bytes);
    };
    for (const url of [server.url, `${server.url}?chunked`]) {
      const body = await (await sendHttp(url, GET)).read(1_000_000, true, allocate);
      expect(body.buffer).toBe(memory.buffer);
      expect(body.equals(payload)).toBe(true);
    }
    expect(sizes).toEqual([payload.length, payload.length]);
  });

  it('Given a POST, When sent, Then the server receives the body with its length', async () => {
    let received = '';
    server = await serve((req, res) => {
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (received += chunk));
      req.on('end', () => res.end(req.headers['content-length']));
    });
    const answer = await sendHttp(server.url, { ...GET, method: 'POST', body: 'a=1&b=é' });
    expect((await answer.read(100, true)).toString()).toBe(String(Buffer.byteLength('a=1&b=é')));
    expect(received).toBe('a=1&b=é');
  });

  it('Given a body over the budget, When read strictly, Then ResponseTooLargeError; leniently, Then its first bytes', async () => {
    server = await serve((req, res) => {
      if (req.url?.endsWith('chunked')) res.end(payload);
      else res.writeHead(200, { 'content-length': String(payload.length) }).end(payload);
    });
    for (const url of [server.url, `${server.url}?chunked`]) {
      await expect((await sendHttp(url, GET)).read(1_000, true)).rejects.toBeInstanceOf(
        ResponseTooLargeError,
      );
      const head = await (await sendHttp(url, GET)).read(1_000, false);
      expect(head.equals(payload.subarray(0, 1_000))).toBe(true);
    }
  });

  describe('on a clock the test moves', () => {
    // Only the timers and the date are fake: sockets and their callbacks run as usual.
    beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
    afterEach(() => jest.useRealTimers());

    it('Given a server that never answers, When the deadline passes, Then HttpDeadlineError, not before', async () => {
      let received = (): void => undefined;
      const requestIn = new Promise<void>((resolve) => (received = resolve));
      server = await serve(() => received());
      const outcome = failureOf(sendHttp(server.url, { ...GET, timeoutMs: 200 }));
      await requestIn;
      jest.advanceTimersByTime(199);
      expect(jest.getTimerCount()).toBe(1); // the deadline, still armed
      jest.advanceTimersByTime(1);
      expect(jest.getTimerCount()).toBe(0);
      expect(await outcome).toBeInstanceOf(HttpDeadlineError);
    });

    it('Given a body that stalls half way, When the deadline passes, Then HttpDeadlineError', async () => {
      let written = (): void => undefined;
      const partWritten = new Promise<void>((resolve) => (written = resolve));
      server = await serve((_req, res) => {
        res.writeHead(200, { 'content-length': String(payload.length) });
        res.write(payload.subarray(0, 10), () => written());
      });
      const answer = await sendHttp(server.url, { ...GET, timeoutMs: 300 });
      const body = failureOf(answer.read(1_000_000, true));
      await partWritten;
      jest.advanceTimersByTime(300);
      expect(await body).toBeInstanceOf(HttpDeadlineError);
    });
  });

  it('Given a connection cut mid-body, When read, Then an error says the body was incomplete', async () => {
    server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(payload.length) });
      res.write(payload.subarray(0, 10), () => res.destroy());
    });
    const answer = await sendHttp(server.url, GET);
    const error = await failureOf(answer.read(1_000_000, true));
    expect((error as Error).message).toMatch(/closed before the body was complete/);
  });

  it('Given a kept-alive socket the server drops, When reused, Then the request is sent once more on a new one', async () => {
    server = await serve((_req, res, requestOnSocket) => {
      // The second request on a connection finds it closed, as after the server's idle timeout.
      if (requestOnSocket > 1) return res.socket?.destroy();
      res.end('ok');
    });
    await (await sendHttp(server.url, GET)).read(10, true);
    const again = await sendHttp(server.url, GET);
    expect((await again.read(10, true)).toString()).toBe('ok');
    expect(server.connections).toBe(2);
  });

  it('Given a fresh socket the server drops, When sent, Then the error is not hidden by a retry', async () => {
    server = await serve((_req, res) => res.socket?.destroy());
    const error = await failureOf(sendHttp(server.url, GET));
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect(server.connections).toBe(1);
  });
});
